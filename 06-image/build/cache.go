package build

import (
	_ "crypto/sha256" // go-digest's sha256
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"

	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/internal/atomicfile"
)

// CacheKey names a build step for the cache: the image the step starts
// from (parent, "" for scratch), the config the step produces (cfg, as
// canonical JSON: encoding/json writes struct fields in order and map keys
// sorted) and the history line of the step (createdBy), all hashed with
// sha256:
//
//	sha256(parent + "\n" + json(cfg) + "\n" + createdBy)
//
// Two steps with the same key would make the same image, so the second
// can reuse the first one's. The parent is what makes a change invalidate
// every step after it; createdBy is the instruction's text (RUN) or holds
// the checksum of the files it copies (COPY, ADD).
func CacheKey(parent digest.Digest, cfg imagespec.ImageConfig, createdBy string) digest.Digest {
	// LAB 06.1 BEGIN: hash the parent, the config as JSON and createdBy
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(fmt.Sprintf("cache key: %v", err)) // an ImageConfig always marshals
	}
	var sb strings.Builder
	sb.WriteString(parent.String())
	sb.WriteByte('\n')
	sb.Write(b)
	sb.WriteByte('\n')
	sb.WriteString(createdBy)
	return digest.FromString(sb.String())
	// LAB 06.1 END
	// LAB 06.1 STUB: lab.WarnOnce("06.1")
	// LAB 06.1 STUB: return digest.FromString(createdBy)
}

// Cache maps cache keys to the step images made for them:
// DATA/images/buildcache/<key hex> holds the image ID. An entry whose
// image was removed since (rmi, prune) is a miss, and is dropped.
type Cache struct {
	store *images.Store
	dir   string
}

// OpenCache returns the build cache of the image store.
func OpenCache(store *images.Store) *Cache {
	return &Cache{store: store, dir: filepath.Join(store.Root, "buildcache")}
}

// Get returns the image stored for key, if it still exists.
func (c *Cache) Get(key digest.Digest) (digest.Digest, bool, error) {
	if err := key.Validate(); err != nil {
		return "", false, fmt.Errorf("build cache: %w", err)
	}
	p := filepath.Join(c.dir, key.Encoded())
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("build cache: %w", err)
	}
	id, err := digest.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		_ = os.Remove(p) // a torn or foreign file: not a hit
		return "", false, nil
	}
	if _, err := c.store.Resolve(id.String()); err != nil {
		if errors.Is(err, engine.ErrImageNotFound) {
			_ = os.Remove(p) // stale: its image is gone
			return "", false, nil
		}
		return "", false, fmt.Errorf("build cache: %w", err)
	}
	return id, true, nil
}

// Put records that key made the image id (written atomically, so a
// reader sees the old entry or the new one).
func (c *Cache) Put(key, id digest.Digest) error {
	if err := key.Validate(); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(c.dir, key.Encoded()), []byte(id.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	return nil
}
