package distribution

import (
	"fmt"
	"strings"

	digest "github.com/opencontainers/go-digest"

	"minibox/04-storage/images"
)

// named is a reference as pull and push use it: a repository and either a
// tag or a digest.
type named struct {
	ref        images.Reference // Tag is "latest" for a digest reference too
	digest     digest.Digest    // name@sha256:…
	defaultTag bool             // no tag was given: "Using default tag: latest"
}

// parseNamed reads NAME[:TAG] or NAME@sha256:HEX.
func parseNamed(s string) (named, error) {
	name, dgst, byDigest := strings.Cut(s, "@")
	r, err := images.ParseReference(name)
	if err != nil {
		return named{}, err
	}
	n := named{ref: r}
	if byDigest {
		d, err := digest.Parse(dgst)
		if err != nil {
			return named{}, fmt.Errorf("invalid reference format: %q: %w", s, err)
		}
		n.digest = d
		return n, nil
	}
	last := name[strings.LastIndex(name, "/")+1:]
	n.defaultTag = !strings.Contains(last, ":")
	return n, nil
}

// wire is what the registry is asked for: the tag or the digest.
func (n named) wire() string {
	if n.digest != "" {
		return n.digest.String()
	}
	return n.ref.Tag
}

// full is the reference the store knows: docker.io/library/x:tag or
// docker.io/library/x@sha256:….
func (n named) full() string {
	if n.digest != "" {
		return n.ref.Repository() + "@" + n.digest.String()
	}
	return n.ref.String()
}

// familiar is how Docker's messages name it: busybox:latest, busybox@sha256:….
func (n named) familiar() string {
	if n.digest != "" {
		return n.ref.Familiar() + "@" + n.digest.String()
	}
	return n.ref.FamiliarString()
}

// short is a digest's first 12 hex digits, the ID of a progress line.
func short(d digest.Digest) string {
	h := d.Encoded()
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}
