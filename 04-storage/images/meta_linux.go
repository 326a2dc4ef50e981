package images

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specsgo "github.com/opencontainers/image-spec/specs-go"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"

	"minibox/04-storage/engine"
	"minibox/04-storage/storage"
	"minibox/internal/atomicfile"
)

// meta reads DATA/images/meta/<id>: the parent and the repo digests.
func (s *Store) meta(id digest.Digest) (digest.Digest, []string) {
	dir := filepath.Join(s.Root, "meta", id.Encoded())
	var parent digest.Digest
	if b, err := os.ReadFile(filepath.Join(dir, "parent")); err == nil {
		if d, err := digest.Parse(strings.TrimSpace(string(b))); err == nil {
			parent = d
		}
	}
	var rds []string
	if b, err := os.ReadFile(filepath.Join(dir, "repodigests")); err == nil {
		_ = json.Unmarshal(b, &rds)
	}
	return parent, rds
}

// AddImage stores an image whose layers are in the store already (each
// unpacked in Layers, its blob in Blobs: PutLayer, or a pull's Write and
// Unpack). config is the config's JSON, kept as it is (its digest is the
// image's ID). manifest is the manifest's JSON as a registry served it, OCI
// or Docker schema 2, kept byte for byte since its digest is what the
// registry names it by; nil makes an OCI manifest of layers. parent is the
// image this one was built or committed on ("" for none). Each of refs
// names the image and leaves the image that had it. An image that is here
// already (the same ID) keeps its manifest and gains the names.
func (s *Store) AddImage(config []byte, layers []LayerBlob, manifest []byte, parent digest.Digest, refs ...string) (*engine.Image, error) {
	var full []string
	for _, ref := range refs {
		r, err := ParseReference(ref)
		if err != nil {
			return nil, err
		}
		full = append(full, r.String())
	}
	var cfg imagespec.Image
	if err := json.Unmarshal(config, &cfg); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if cfg.RootFS.Type != "layers" {
		return nil, fmt.Errorf("image config: rootfs type %q, want \"layers\"", cfg.RootFS.Type)
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return nil, fmt.Errorf("image config: %d diffIDs for %d layers", len(cfg.RootFS.DiffIDs), len(layers))
	}
	for i, l := range layers {
		if l.DiffID != cfg.RootFS.DiffIDs[i] {
			return nil, fmt.Errorf("layer %d: diffID %s, the config says %s", i, l.DiffID, cfg.RootFS.DiffIDs[i])
		}
		if err := l.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("layer %d: blob digest %q: %w", i, l.Digest, err)
		}
		if !s.Layers.Has(l.DiffID) {
			return nil, fmt.Errorf("layer %d: %w %s (not unpacked)", i, storage.ErrUnknownLayer, l.DiffID)
		}
	}
	id := digest.FromBytes(config)
	if parent != "" {
		if err := parent.Validate(); err != nil {
			return nil, fmt.Errorf("parent %q: %w", parent, err)
		}
		if _, err := s.find(parent.String()); err != nil {
			return nil, fmt.Errorf("parent image: %w", err)
		}
	}
	mediaType := imagespec.MediaTypeImageManifest
	if manifest == nil {
		m := imagespec.Manifest{
			Versioned: specsgo.Versioned{SchemaVersion: 2},
			MediaType: imagespec.MediaTypeImageManifest,
			Config:    imagespec.Descriptor{MediaType: imagespec.MediaTypeImageConfig, Digest: id, Size: int64(len(config))},
			Layers:    []imagespec.Descriptor{},
		}
		for _, l := range layers {
			mt := l.MediaType
			if mt == "" {
				mt = imagespec.MediaTypeImageLayer
			}
			m.Layers = append(m.Layers, imagespec.Descriptor{MediaType: mt, Digest: l.Digest, Size: l.Size})
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		manifest = b
	} else {
		var m imagespec.Manifest
		if err := json.Unmarshal(manifest, &m); err != nil {
			return nil, fmt.Errorf("image manifest: %w", err)
		}
		switch m.MediaType {
		case imagespec.MediaTypeImageManifest, MediaTypeDockerManifest:
			mediaType = m.MediaType
		case "": // optional in OCI manifests
		default:
			return nil, fmt.Errorf("image manifest: media type %q is not an image manifest", m.MediaType)
		}
		if m.Config.Digest != id {
			return nil, fmt.Errorf("image manifest: config %s, but the config is %s", m.Config.Digest, id)
		}
		if len(m.Layers) != len(layers) {
			return nil, fmt.Errorf("image manifest: %d layers for %d diffIDs", len(m.Layers), len(layers))
		}
		for i, l := range m.Layers {
			if l.Digest != layers[i].Digest {
				return nil, fmt.Errorf("image manifest: layer %d is %s, not %s", i, l.Digest, layers[i].Digest)
			}
		}
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	es, err := s.entries()
	if err != nil {
		return nil, err
	}
	var desc imagespec.Descriptor
	if i := slices.IndexFunc(es, func(e *entry) bool { return e.id == id }); i >= 0 {
		desc = imagespec.Descriptor{MediaType: es[i].mediaType, Digest: es[i].manifest, Size: es[i].size}
	} else {
		if _, err := s.blobs.PutBytes(config); err != nil {
			return nil, err
		}
		md, err := s.blobs.PutBytes(manifest)
		if err != nil {
			return nil, err
		}
		desc = imagespec.Descriptor{MediaType: mediaType, Digest: md, Size: int64(len(manifest))}
	}
	for _, l := range layers {
		if err := s.recordBlob(l.DiffID, l); err != nil {
			return nil, err
		}
	}
	if err := s.Layers.Use(layerUser(id), cfg.RootFS.DiffIDs...); err != nil {
		return nil, err
	}
	if parent != "" {
		dir := filepath.Join(s.Root, "meta", id.Encoded())
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("image %s: %w", id, err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, "parent"), []byte(parent.String()), 0o600); err != nil {
			return nil, err
		}
	}
	idx, err := s.index()
	if err != nil {
		return nil, err
	}
	have := slices.ContainsFunc(idx.Manifests, func(d imagespec.Descriptor) bool { return d.Digest == desc.Digest })
	for _, r := range full {
		idx.Manifests = untag(idx.Manifests, r)
		d := desc
		d.Annotations = map[string]string{imagespec.AnnotationRefName: r}
		idx.Manifests = append(idx.Manifests, d)
	}
	if len(full) == 0 && !have {
		idx.Manifests = append(idx.Manifests, desc)
	}
	idx.Manifests = dropUntaggedDuplicates(idx.Manifests)
	if err := s.writeIndex(idx); err != nil {
		return nil, err
	}
	e, err := s.findLocked(id)
	if err != nil {
		return nil, err
	}
	return e.image(), nil
}

// findLocked finds the image id (the lock held, or not needed).
func (s *Store) findLocked(id digest.Digest) (*entry, error) {
	es, err := s.entries()
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		if e.id == id {
			return e, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", engine.ErrImageNotFound, id)
}

// Manifest returns the manifest of the image id as it is stored: its
// descriptor and its bytes.
func (s *Store) Manifest(id digest.Digest) (imagespec.Descriptor, []byte, error) {
	e, err := s.findLocked(id)
	if err != nil {
		return imagespec.Descriptor{}, nil, err
	}
	b, err := s.readBlob(e.manifest)
	if err != nil {
		return imagespec.Descriptor{}, nil, err
	}
	mt := e.mediaType
	if mt == "" {
		mt = imagespec.MediaTypeImageManifest
	}
	return imagespec.Descriptor{MediaType: mt, Digest: e.manifest, Size: int64(len(b))}, b, nil
}

// Config returns the config of the image id as it is stored (with the
// fields the OCI spec does not know, such as Docker's Healthcheck).
func (s *Store) Config(id digest.Digest) ([]byte, error) {
	if _, err := s.findLocked(id); err != nil {
		return nil, err
	}
	return s.readBlob(id)
}

// SetRepoDigest records that the image ref names (a name[:tag] in the
// store) is manifest in its repository, as a pull or a push learns it: so
// `images --digests` shows repo@digest and Resolve takes it. For a
// multi-arch pull that is the index's digest. The same repo@digest leaves
// any other image that had it.
func (s *Store) SetRepoDigest(ref string, manifest digest.Digest) error {
	r, err := ParseReference(ref)
	if err != nil {
		return err
	}
	if err := manifest.Validate(); err != nil {
		return fmt.Errorf("repo digest %q: %w", manifest, err)
	}
	e, err := s.find(ref)
	if err != nil {
		return err
	}
	rd := r.Repository() + "@" + manifest.String()
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	es, err := s.entries()
	if err != nil {
		return err
	}
	for _, o := range es {
		if o.id == e.id || !slices.Contains(o.repoDigests, rd) {
			continue
		}
		if err := s.writeRepoDigests(o.id, slices.DeleteFunc(slices.Clone(o.repoDigests), func(x string) bool { return x == rd })); err != nil {
			return err
		}
	}
	_, rds := s.meta(e.id)
	if slices.Contains(rds, rd) {
		return nil
	}
	rds = append(rds, rd)
	sort.Strings(rds)
	return s.writeRepoDigests(e.id, rds)
}

func (s *Store) writeRepoDigests(id digest.Digest, rds []string) error {
	dir := filepath.Join(s.Root, "meta", id.Encoded())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("image %s: %w", id, err)
	}
	if rds == nil {
		rds = []string{}
	}
	b, err := json.Marshal(rds)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "repodigests"), b, 0o600)
}

// Parent returns the image id's parent ("" for none), as build and commit
// recorded it.
func (s *Store) Parent(id digest.Digest) (digest.Digest, error) {
	e, err := s.findLocked(id)
	if err != nil {
		return "", err
	}
	return e.parent, nil
}

// Children returns the images whose parent is id.
func (s *Store) Children(id digest.Digest) ([]digest.Digest, error) {
	es, err := s.entries()
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(es, func(e *entry) bool { return e.id == id }) {
		return nil, fmt.Errorf("%w: %s", engine.ErrImageNotFound, id)
	}
	return childrenOf(es, id), nil
}

// Info is what `image inspect` and `history` need of one image besides
// its config.
type Info struct {
	ID          digest.Digest
	RepoTags    []string // familiar
	RepoDigests []string // familiar
	Parent      digest.Digest
	Manifest    imagespec.Descriptor
	Layers      []LayerBlob
}

// Inspect returns the Info of the image ref (any form Resolve takes).
func (s *Store) Inspect(ref string) (*Info, error) {
	e, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	mt := e.mediaType
	if mt == "" {
		mt = imagespec.MediaTypeImageManifest
	}
	return &Info{
		ID: e.id, RepoTags: e.image().RepoTags, RepoDigests: e.familiarDigests(), Parent: e.parent,
		Manifest: imagespec.Descriptor{MediaType: mt, Digest: e.manifest, Size: e.size},
		Layers:   s.layersOf(e),
	}, nil
}

// Names returns the full references (docker.io/library/x:tag) of the
// image id.
func (s *Store) Names(id digest.Digest) ([]string, error) {
	e, err := s.findLocked(id)
	if err != nil {
		return nil, err
	}
	return slices.Clone(e.refs), nil
}

// IDs returns every image's ID, in the index's order.
func (s *Store) IDs() ([]digest.Digest, error) {
	es, err := s.entries()
	if err != nil {
		return nil, err
	}
	var out []digest.Digest
	for _, e := range es {
		out = append(out, e.id)
	}
	return out, nil
}

var errNotIndex = errors.New("not an index")

// ParseIndex reads b as an OCI index or a Docker manifest list.
func ParseIndex(b []byte) (imagespec.Index, error) {
	var idx imagespec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("image index: %w", err)
	}
	if !isIndex(idx.MediaType) && idx.MediaType != "" {
		return idx, fmt.Errorf("image index: media type %q: %w", idx.MediaType, errNotIndex)
	}
	return idx, nil
}

// IsIndex reports whether the media type is a list of manifests (an OCI
// index or a Docker manifest list).
func IsIndex(mediaType string) bool { return isIndex(mediaType) }
