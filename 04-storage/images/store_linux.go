package images

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "crypto/sha256" // go-digest's sha256
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specsgo "github.com/opencontainers/image-spec/specs-go"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"

	"minibox/04-storage/engine"
	"minibox/04-storage/storage"
	"minibox/internal/atomicfile"
	"minibox/internal/filelock"
)

// Store is the local image store, in the OCI image layout's terms, so that
// lesson 06 (pull, push, save, load, build) grows it without a migration:
//
//	DATA/images/blobs/sha256/<hex>   image configs and manifests (JSON), by digest
//	DATA/images/index.json           an OCI index: one manifest per image, with
//	                                 org.opencontainers.image.ref.name = each of its
//	                                 full references (docker.io/library/x:latest)
//	DATA/images/users/<id>/<cid>     the containers made from image <id>
//	DATA/images/lock                 flock(2) for every change
//
// The layers are not blobs here but unpacked in the layer store, by diffID
// (a manifest names each layer by the digest of its uncompressed tar, which
// is its diffID). An image's ID is its config's digest, as Docker's.
type Store struct {
	Root   string
	Layers *storage.Store
}

// New returns the store at root over the layer store layers.
func New(root string, layers *storage.Store) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	for _, d := range []string{"blobs/sha256", "users"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	return &Store{Root: abs, Layers: layers}, nil
}

// lock takes the image store's exclusive flock (internal/filelock).
func (s *Store) lock() (func(), error) {
	l, err := filelock.Exclusive(filepath.Join(s.Root, "lock"))
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return l.Unlock, nil
}

// layerUser is the image's name in the layer store's records of users.
func layerUser(id digest.Digest) string { return "image-" + id.Encoded() }

func (s *Store) blobPath(d digest.Digest) string {
	return filepath.Join(s.Root, "blobs", d.Algorithm().String(), d.Encoded())
}

func (s *Store) putBlob(v any) (digest.Digest, int64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", 0, err
	}
	d := digest.FromBytes(b)
	if err := atomicfile.WriteFile(s.blobPath(d), b, 0o600); err != nil {
		return "", 0, fmt.Errorf("write blob %s: %w", d, err)
	}
	return d, int64(len(b)), nil
}

func (s *Store) getBlob(d digest.Digest, v any) error {
	if err := d.Validate(); err != nil {
		return err
	}
	b, err := os.ReadFile(s.blobPath(d))
	if err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	if digest.FromBytes(b) != d {
		return fmt.Errorf("blob %s: content does not match its digest", d)
	}
	return json.Unmarshal(b, v)
}

func (s *Store) index() (imagespec.Index, error) {
	idx := imagespec.Index{Versioned: specsgo.Versioned{SchemaVersion: 2}, MediaType: imagespec.MediaTypeImageIndex}
	b, err := os.ReadFile(filepath.Join(s.Root, "index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return idx, fmt.Errorf("image index: %w", err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("image index: %w", err)
	}
	return idx, nil
}

func (s *Store) writeIndex(idx imagespec.Index) error {
	if idx.Manifests == nil {
		idx.Manifests = []imagespec.Descriptor{}
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(s.Root, "index.json"), b, 0o600)
}

// entry is one image as the index and its blobs tell it.
type entry struct {
	manifest digest.Digest
	m        imagespec.Manifest
	config   imagespec.Image
	id       digest.Digest
	refs     []string // full references, sorted
}

// entries groups the index's descriptors by manifest: one entry per image.
func (s *Store) entries() ([]*entry, error) {
	idx, err := s.index()
	if err != nil {
		return nil, err
	}
	by := map[digest.Digest]*entry{}
	var out []*entry
	for _, d := range idx.Manifests {
		e := by[d.Digest]
		if e == nil {
			e = &entry{manifest: d.Digest}
			if err := s.getBlob(d.Digest, &e.m); err != nil {
				return nil, err
			}
			if err := s.getBlob(e.m.Config.Digest, &e.config); err != nil {
				return nil, err
			}
			e.id = e.m.Config.Digest
			by[d.Digest] = e
			out = append(out, e)
		}
		if r := d.Annotations[imagespec.AnnotationRefName]; r != "" {
			e.refs = append(e.refs, r)
		}
	}
	for _, e := range out {
		sort.Strings(e.refs)
	}
	return out, nil
}

func (e *entry) image() *engine.Image {
	img := &engine.Image{ID: e.id, Config: e.config, DiffIDs: slices.Clone(e.config.RootFS.DiffIDs)}
	for _, r := range e.refs {
		if ref, err := ParseReference(r); err == nil {
			img.RepoTags = append(img.RepoTags, ref.FamiliarString())
		}
	}
	return img
}

// Resolve finds an image as Docker does: by a full ID (sha256:<hex> or
// <hex>), by a name[:tag] (busybox is docker.io/library/busybox:latest),
// by name@sha256:<manifest digest>, or by a unique prefix of an ID.
func (s *Store) Resolve(ref string) (*engine.Image, error) {
	e, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	return e.image(), nil
}

func (s *Store) find(ref string) (*entry, error) {
	es, err := s.entries()
	if err != nil {
		return nil, err
	}
	notFound := fmt.Errorf("%w: %s", engine.ErrImageNotFound, ref)
	hex := strings.TrimPrefix(ref, "sha256:")
	if name, dgst, ok := strings.Cut(ref, "@"); ok {
		r, err := ParseReference(name)
		if err != nil {
			return nil, err
		}
		d, err := digest.Parse(dgst)
		if err != nil {
			return nil, fmt.Errorf("invalid reference format: %s", err)
		}
		for _, e := range es {
			for _, have := range e.refs {
				if hr, _ := ParseReference(have); e.manifest == d && hr.Repository() == r.Repository() {
					return e, nil
				}
			}
		}
		return nil, notFound
	}
	if len(hex) == 64 && isHex(hex) {
		for _, e := range es {
			if e.id.Encoded() == hex {
				return e, nil
			}
		}
		return nil, notFound
	}
	if strings.HasPrefix(ref, "sha256:") {
		return nil, notFound
	}
	r, refErr := ParseReference(ref)
	if refErr == nil {
		for _, e := range es {
			if slices.Contains(e.refs, r.String()) {
				return e, nil
			}
		}
	}
	if isHex(ref) {
		var match *entry
		for _, e := range es {
			if strings.HasPrefix(e.id.Encoded(), ref) {
				if match != nil && match.id != e.id {
					return nil, fmt.Errorf("%s: ambiguous: more than one image ID starts with it", ref)
				}
				match = e
			}
		}
		if match != nil {
			return match, nil
		}
	}
	if refErr != nil {
		return nil, refErr
	}
	return nil, fmt.Errorf("%w: %s", engine.ErrImageNotFound, r.FamiliarString())
}

// Summary is one line of `images`.
type Summary struct {
	ID       digest.Digest
	RepoTags []string // familiar, "busybox:latest"; none for a dangling image
	Created  time.Time
	Size     int64 // the layers' tar bytes
	Labels   map[string]string
	InUse    bool // a container was made from it
}

// List returns every image, newest first (as `docker images` lists).
func (s *Store) List() ([]Summary, error) {
	es, err := s.entries()
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, e := range es {
		sum := Summary{ID: e.id, RepoTags: e.image().RepoTags, Labels: e.config.Config.Labels, InUse: len(s.users(e.id)) > 0}
		if e.config.Created != nil {
			sum.Created = *e.config.Created
		}
		for _, l := range e.m.Layers {
			sum.Size += l.Size
		}
		out = append(out, sum)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// add stores a new image: its config and manifest blobs, its layers' use,
// and its tag (which leaves the image that had it). layerSizes are the
// layers' tar sizes, bottom first.
func (s *Store) add(cfg imagespec.Image, layerSizes []int64, ref string) (*engine.Image, error) {
	var r Reference
	if ref != "" {
		var err error
		if r, err = ParseReference(ref); err != nil {
			return nil, err
		}
	}
	configDigest, configSize, err := s.putBlob(cfg)
	if err != nil {
		return nil, err
	}
	m := imagespec.Manifest{
		Versioned: specsgo.Versioned{SchemaVersion: 2},
		MediaType: imagespec.MediaTypeImageManifest,
		Config:    imagespec.Descriptor{MediaType: imagespec.MediaTypeImageConfig, Digest: configDigest, Size: configSize},
		Layers:    []imagespec.Descriptor{},
	}
	for i, d := range cfg.RootFS.DiffIDs {
		m.Layers = append(m.Layers, imagespec.Descriptor{MediaType: imagespec.MediaTypeImageLayer, Digest: d, Size: layerSizes[i]})
	}
	manifestDigest, manifestSize, err := s.putBlob(m)
	if err != nil {
		return nil, err
	}
	if err := s.Layers.Use(layerUser(configDigest), cfg.RootFS.DiffIDs...); err != nil {
		return nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := s.index()
	if err != nil {
		return nil, err
	}
	desc := imagespec.Descriptor{MediaType: imagespec.MediaTypeImageManifest, Digest: manifestDigest, Size: manifestSize}
	have := slices.ContainsFunc(idx.Manifests, func(d imagespec.Descriptor) bool { return d.Digest == manifestDigest })
	if ref != "" {
		idx.Manifests = untag(idx.Manifests, r.String())
		desc.Annotations = map[string]string{imagespec.AnnotationRefName: r.String()}
		idx.Manifests = append(idx.Manifests, desc)
	} else if !have {
		idx.Manifests = append(idx.Manifests, desc)
	}
	idx.Manifests = dropUntaggedDuplicates(idx.Manifests)
	if err := s.writeIndex(idx); err != nil {
		return nil, err
	}
	e := &entry{manifest: manifestDigest, m: m, config: cfg, id: configDigest}
	for _, d := range idx.Manifests {
		if d.Digest == manifestDigest && d.Annotations[imagespec.AnnotationRefName] != "" {
			e.refs = append(e.refs, d.Annotations[imagespec.AnnotationRefName])
		}
	}
	sort.Strings(e.refs)
	return e.image(), nil
}

// untag removes the reference full from the descriptors; an image that it
// leaves without any name stays, as Docker's <none> (dangling) image.
func untag(ds []imagespec.Descriptor, full string) []imagespec.Descriptor {
	var out []imagespec.Descriptor
	for _, d := range ds {
		if d.Annotations[imagespec.AnnotationRefName] == full {
			d.Annotations = nil
		}
		out = append(out, d)
	}
	return dropUntaggedDuplicates(out)
}

// dropUntaggedDuplicates keeps an unnamed descriptor only for a manifest
// that has no other descriptor.
func dropUntaggedDuplicates(ds []imagespec.Descriptor) []imagespec.Descriptor {
	named := map[digest.Digest]bool{}
	for _, d := range ds {
		if d.Annotations[imagespec.AnnotationRefName] != "" {
			named[d.Digest] = true
		}
	}
	seen := map[digest.Digest]bool{}
	var out []imagespec.Descriptor
	for _, d := range ds {
		if d.Annotations[imagespec.AnnotationRefName] == "" {
			if named[d.Digest] || seen[d.Digest] {
				continue
			}
			seen[d.Digest] = true
		}
		out = append(out, d)
	}
	return out
}

func platform() imagespec.Platform {
	return imagespec.Platform{Architecture: runtime.GOARCH, OS: "linux"}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Import makes a one-layer image from the tar r (plain or gzip-compressed,
// told by its first bytes) as `docker import FILE|- [REPO[:TAG]]` does,
// with the config changes of `-c` applied. The same tar imported twice has
// the same diffID, and the store keeps its layer once.
func (s *Store) Import(r io.Reader, ref string, changes []string, message string) (*engine.Image, error) {
	if ref != "" {
		if _, err := ParseReference(ref); err != nil {
			return nil, err
		}
	}
	var cfg imagespec.ImageConfig
	if err := ApplyChanges(&cfg, changes); err != nil {
		return nil, err
	}
	br := bufio.NewReader(r)
	var layer io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		defer gz.Close()
		layer = gz
	}
	cr := &countingReader{r: layer}
	diffID, err := s.Layers.Put(cr)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	_, _ = io.Copy(io.Discard, cr) // tar's zero blocks after the end, counted as Docker's size does
	now := time.Now().UTC()
	comment := "Imported from -"
	if message != "" {
		comment = message
	}
	img := imagespec.Image{
		Created: &now, Platform: platform(), Config: cfg,
		RootFS:  imagespec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History: []imagespec.History{{Created: &now, Comment: comment}},
	}
	return s.add(img, []int64{cr.n}, ref)
}

// CommitOptions are `docker commit`'s.
type CommitOptions struct {
	Ref     string                 // REPO[:TAG], or "" for an unnamed image
	Message string                 // -m
	Author  string                 // -a
	Changes []string               // -c
	Config  *imagespec.ImageConfig // the container's config; nil: the parent's
}

// Commit makes a new image of the parent's layers plus the changes of the
// snapshot id (taken from sn, deletions as whiteouts) as a layer on top.
func (s *Store) Commit(sn storage.Snapshotter, id string, parent *engine.Image, opts CommitOptions) (*engine.Image, error) {
	if opts.Ref != "" {
		if _, err := ParseReference(opts.Ref); err != nil {
			return nil, err
		}
	}
	cfg := parent.Config.Config
	if opts.Config != nil {
		cfg = *opts.Config
	}
	cfg = cloneConfig(cfg)
	if err := ApplyChanges(&cfg, opts.Changes); err != nil {
		return nil, err
	}
	pe, err := s.find(parent.ID.String())
	if err != nil {
		return nil, fmt.Errorf("commit: parent image: %w", err)
	}
	var size countingWriter
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := sn.Diff(id, io.MultiWriter(pw, &size))
		pw.CloseWithError(err)
		done <- err
	}()
	diffID, err := s.Layers.Put(pr)
	pr.CloseWithError(io.ErrClosedPipe)
	if derr := <-done; err == nil && derr != nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", id, err)
	}
	now := time.Now().UTC()
	img := imagespec.Image{
		Created: &now, Author: opts.Author, Platform: platform(), Config: cfg,
		RootFS:  imagespec.RootFS{Type: "layers", DiffIDs: append(slices.Clone(parent.DiffIDs), diffID)},
		History: append(slices.Clone(pe.config.History), imagespec.History{Created: &now, Author: opts.Author, Comment: opts.Message}),
	}
	sizes := make([]int64, 0, len(img.RootFS.DiffIDs))
	for _, l := range pe.m.Layers {
		sizes = append(sizes, l.Size)
	}
	return s.add(img, append(sizes, size.n), opts.Ref)
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func cloneConfig(c imagespec.ImageConfig) imagespec.ImageConfig {
	b, _ := json.Marshal(c)
	var out imagespec.ImageConfig
	_ = json.Unmarshal(b, &out)
	return out
}

// Tag gives the image src the name dst as well (`docker tag`); the image
// that had dst before loses it.
func (s *Store) Tag(src, dst string) error {
	r, err := ParseReference(dst)
	if err != nil {
		return err
	}
	e, err := s.find(src)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.index()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(idx.Manifests, func(d imagespec.Descriptor) bool { return d.Digest == e.manifest })
	if i < 0 {
		return fmt.Errorf("%w: %s", engine.ErrImageNotFound, src)
	}
	desc := idx.Manifests[i]
	desc.Annotations = map[string]string{imagespec.AnnotationRefName: r.String()}
	idx.Manifests = append(untag(idx.Manifests, r.String()), desc)
	return s.writeIndex(imagespec.Index{Versioned: idx.Versioned, MediaType: idx.MediaType, Manifests: dropUntaggedDuplicates(idx.Manifests)})
}

// Use records that container cid was made from image id, so that Remove
// refuses to delete it; Release drops the record. Both hold the store's
// lock, as Remove does while it reads the records: so an image that Remove
// is deleting cannot gain a user halfway, and Use of an image that is gone
// fails with engine.ErrImageNotFound instead of recording a user of nothing.
func (s *Store) Use(id digest.Digest, cid string) error {
	if err := id.Validate(); err != nil || strings.ContainsAny(cid, "/\x00") || cid == "" || cid == "." || cid == ".." {
		return fmt.Errorf("image %s: user %q: bad name", id, cid)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(s.blobPath(id)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s", engine.ErrImageNotFound, id)
	} else if err != nil {
		return fmt.Errorf("image %s: %w", id, err)
	}
	dir := filepath.Join(s.Root, "users", id.Encoded())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("image %s: %w", id, err)
	}
	if err := os.WriteFile(filepath.Join(dir, cid), nil, 0o600); err != nil {
		return fmt.Errorf("image %s: %w", id, err)
	}
	return nil
}

// Release drops container cid's use of image id (none is fine).
func (s *Store) Release(id digest.Digest, cid string) error {
	if id.Validate() != nil || strings.ContainsAny(cid, "/\x00") || cid == "" {
		return nil
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	err = os.Remove(filepath.Join(s.Root, "users", id.Encoded(), cid))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("image %s: %w", id, err)
	}
	return nil
}

func (s *Store) users(id digest.Digest) []string {
	ents, _ := os.ReadDir(filepath.Join(s.Root, "users", id.Encoded()))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// Prune is `docker image prune`: it removes the dangling images (no tag)
// that no container uses, and with all every image no container uses. It
// returns Remove's lines and the bytes reclaimed, counted as the deleted
// images' layer sizes (a layer another image still shares stays, so this
// is an upper bound, as an image's SIZE is).
func (s *Store) Prune(all bool) (lines []string, reclaimed int64, err error) {
	list, err := s.List()
	if err != nil {
		return nil, 0, err
	}
	for _, im := range list {
		if im.InUse || (!all && len(im.RepoTags) > 0) {
			continue
		}
		out, err := s.Remove(im.ID.String(), true)
		if errors.Is(err, engine.ErrImageNotFound) || (err != nil && strings.HasPrefix(err.Error(), "conflict:")) {
			continue // removed meanwhile, or a container took it meanwhile
		}
		lines = append(lines, out...)
		if err != nil {
			return lines, reclaimed, err
		}
		reclaimed += im.Size
	}
	return lines, reclaimed, nil
}

// Remove is `docker rmi`: a name that the image shares with other names is
// only untagged; the last name, or the ID, deletes the image, its blobs and
// the layers no other image or container uses. An image that a container
// was made from is refused (Docker's conflict), and so is an ID with
// several names unless force. It returns Docker's "Untagged: " and
// "Deleted: " lines.
func (s *Store) Remove(ref string, force bool) ([]string, error) {
	e, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	byName := false
	var full string
	if r, err := ParseReference(ref); err == nil && slices.Contains(e.refs, r.String()) {
		byName, full = true, r.String()
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := s.index()
	if err != nil {
		return nil, err
	}
	var out []string
	users := s.users(e.id)
	short := e.id.Encoded()[:12]
	switch {
	case byName && len(e.refs) > 1:
		idx.Manifests = untag(idx.Manifests, full)
		r, _ := ParseReference(full)
		return []string{"Untagged: " + r.FamiliarString()}, s.writeIndex(idx)
	case len(users) > 0 && !force:
		if byName {
			r, _ := ParseReference(full)
			return nil, fmt.Errorf("conflict: unable to remove repository reference %q (must force) - container %.12s is using its referenced image %s", r.FamiliarString(), users[0], short)
		}
		return nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %.12s", short, users[0])
	case len(users) > 0:
		return nil, fmt.Errorf("conflict: unable to delete %s (cannot be forced) - image is being used by container %.12s", short, users[0])
	case !byName && len(e.refs) > 1 && !force:
		return nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short)
	}
	for _, r := range e.refs {
		pr, _ := ParseReference(r)
		out = append(out, "Untagged: "+pr.FamiliarString())
	}
	idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d imagespec.Descriptor) bool { return d.Digest == e.manifest })
	if err := s.writeIndex(idx); err != nil {
		return nil, err
	}
	for _, b := range []digest.Digest{e.manifest, e.id} {
		if slices.ContainsFunc(idx.Manifests, func(d imagespec.Descriptor) bool { return d.Digest == b }) {
			continue
		}
		if err := os.Remove(s.blobPath(b)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return out, err
		}
	}
	out = append(out, "Deleted: "+e.id.String())
	if err := s.Layers.Release(layerUser(e.id), e.config.RootFS.DiffIDs...); err != nil {
		return out, err
	}
	for i := len(e.config.RootFS.DiffIDs) - 1; i >= 0; i-- {
		d := e.config.RootFS.DiffIDs[i]
		if err := s.Layers.Remove(d); err != nil && !errors.Is(err, storage.ErrInUse) && !errors.Is(err, storage.ErrUnknownLayer) {
			return out, err
		}
	}
	return out, nil
}

var _ engine.Images = (*Store)(nil)
