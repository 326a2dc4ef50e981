package distribution

import (
	"context"
	"errors"
	"fmt"

	"minibox/04-storage/engine"
)

// EnsureImage is `run --pull` and `build --pull`: "missing" (the default,
// also "") pulls only when the store lacks ref, "always" pulls anyway (an
// unchanged image is "up to date" and costs a manifest request), "never"
// only looks. The caller prints "Unable to find image 'X' locally" before a
// missing image is pulled, as Docker's CLI does.
func (p *Puller) EnsureImage(ctx context.Context, ref, policy string) (*engine.Image, error) {
	switch policy {
	case "", "missing", "never":
		img, err := p.Store.Resolve(ref)
		if err == nil || !errors.Is(err, engine.ErrImageNotFound) {
			return img, err
		}
		if policy == "never" {
			return nil, fmt.Errorf("No such image: %s: %w", familiarRef(ref), err)
		}
		return p.Pull(ctx, ref)
	case "always":
		return p.Pull(ctx, ref)
	}
	return nil, fmt.Errorf(`invalid pull option: '%s': must be one of "always", "missing" or "never"`, policy)
}

// familiarRef is how Docker's messages name ref.
func familiarRef(ref string) string {
	if n, err := parseNamed(ref); err == nil {
		return n.familiar()
	}
	return ref
}
