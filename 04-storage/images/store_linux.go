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
//	DATA/images/layers/<hex>.json    a layer's record (LayerRecord): its tar's
//	                                 size and its blobs, by diffID
//	DATA/images/meta/<id>/parent     the image it was built or committed on
//	DATA/images/meta/<id>/repodigests  repo@digest names it was pulled or pushed as
//	DATA/images/tmp/                 blobs being written
//
// Layers live twice: unpacked in the layer store, by diffID, for containers
// to stack, and as blobs (the tar made here, or the registry's compressed
// blob), for push and save. A manifest names a layer by its blob's digest,
// the config by the diffID (the digest of the uncompressed tar). An
// image's ID is its config's digest, as Docker's.
type Store struct {
	Root   string
	Layers *storage.Store
	blobs  *Blobs
}

// New returns the store at root over the layer store layers.
func New(root string, layers *storage.Store) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	for _, d := range []string{"blobs/sha256", "users", "layers", "meta", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	s := &Store{Root: abs, Layers: layers, blobs: &Blobs{root: filepath.Join(abs, "blobs"), tmp: filepath.Join(abs, "tmp")}}
	s.blobs.cleanTmp()
	return s, nil
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

// readBlob reads a small blob (a config, a manifest) and checks its digest.
func (s *Store) readBlob(d digest.Digest) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.blobPath(d))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	if digest.FromBytes(b) != d {
		return nil, fmt.Errorf("blob %s: content does not match its digest", d)
	}
	return b, nil
}

func (s *Store) getBlob(d digest.Digest, v any) error {
	b, err := s.readBlob(d)
	if err != nil {
		return err
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
	manifest    digest.Digest
	mediaType   string // the manifest's
	size        int64  // the manifest's
	m           imagespec.Manifest
	config      imagespec.Image
	id          digest.Digest
	refs        []string // full references, sorted
	repoDigests []string // full repo@digest names, sorted
	parent      digest.Digest
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
			e = &entry{manifest: d.Digest, mediaType: d.MediaType, size: d.Size}
			if err := s.getBlob(d.Digest, &e.m); err != nil {
				return nil, err
			}
			if err := s.getBlob(e.m.Config.Digest, &e.config); err != nil {
				return nil, err
			}
			e.id = e.m.Config.Digest
			e.parent, e.repoDigests = s.meta(e.id)
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

// familiarDigests returns the image's repo digests as Docker shows them
// (busybox@sha256:...).
func (e *entry) familiarDigests() []string {
	var out []string
	for _, rd := range e.repoDigests {
		name, d, _ := strings.Cut(rd, "@")
		if r, err := ParseReference(name); err == nil {
			out = append(out, r.Familiar()+"@"+d)
		}
	}
	return out
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
			if slices.Contains(e.repoDigests, r.Repository()+"@"+d.String()) {
				return e, nil
			}
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
	if isHex(ref) {
		return nil, notFound // a short ID, named as typed (not "ID:latest")
	}
	return nil, fmt.Errorf("%w: %s", engine.ErrImageNotFound, r.FamiliarString())
}

// Summary is one line of `images`.
type Summary struct {
	ID          digest.Digest
	RepoTags    []string // familiar, "busybox:latest"; none for a dangling image
	RepoDigests []string // familiar, "busybox@sha256:..." (pulled or pushed)
	Parent      digest.Digest
	Created     time.Time
	Size        int64 // the layers' uncompressed tar bytes (Docker's SIZE)
	SharedSize  int64 // of those, the bytes of layers another image uses too
	Labels      map[string]string
	InUse       bool // a container was made from it
	// Intermediate: untagged and the parent of another image (a build
	// step, a committed container's image): `images` hides it, `images -a`
	// shows it, as Docker's.
	Intermediate bool
}

// List returns every image, newest first (as `docker images -a` lists);
// without -a, leave out the Intermediate ones.
func (s *Store) List() ([]Summary, error) {
	es, err := s.entries()
	if err != nil {
		return nil, err
	}
	parents := map[digest.Digest]bool{}
	layerUsers := map[digest.Digest]int{}
	for _, e := range es {
		if e.parent != "" {
			parents[e.parent] = true
		}
		for _, d := range uniq(e.config.RootFS.DiffIDs) {
			layerUsers[d]++
		}
	}
	var out []Summary
	for _, e := range es {
		sum := Summary{
			ID: e.id, RepoTags: e.image().RepoTags, RepoDigests: e.familiarDigests(), Parent: e.parent,
			Labels: e.config.Config.Labels, InUse: len(s.users(e.id)) > 0,
		}
		sum.Intermediate = len(e.refs) == 0 && parents[e.id]
		if e.config.Created != nil {
			sum.Created = *e.config.Created
		}
		seen := map[digest.Digest]bool{}
		for _, l := range s.layersOf(e) {
			if seen[l.DiffID] {
				continue
			}
			seen[l.DiffID] = true
			sum.Size += l.UncompressedSize
			if layerUsers[l.DiffID] > 1 {
				sum.SharedSize += l.UncompressedSize
			}
		}
		out = append(out, sum)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

func uniq(ds []digest.Digest) []digest.Digest {
	var out []digest.Digest
	for _, d := range ds {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
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

// Import makes a one-layer image from the tar r (plain or gzip-compressed,
// told by its first bytes) as `docker import FILE|- [REPO[:TAG]]` does,
// with the config changes of `-c` applied. The same tar imported twice has
// the same diffID, and the store keeps its layer once. The blob kept is
// the uncompressed tar (its digest is the diffID).
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
	l, err := s.PutLayer(func(w io.Writer) error {
		_, err := io.Copy(w, layer) // to the end: tar's zero blocks count, as Docker's size does
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	now := time.Now().UTC()
	comment := "Imported from -"
	if message != "" {
		comment = message
	}
	img := imagespec.Image{
		Created: &now, Platform: platform(), Config: cfg,
		RootFS:  imagespec.RootFS{Type: "layers", DiffIDs: []digest.Digest{l.DiffID}},
		History: []imagespec.History{{Created: &now, Comment: comment}},
	}
	return s.addConfig(img, []LayerBlob{l}, "", ref)
}

// addConfig marshals cfg and adds the image with a manifest made here.
func (s *Store) addConfig(cfg imagespec.Image, layers []LayerBlob, parent digest.Digest, ref string) (*engine.Image, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var refs []string
	if ref != "" {
		refs = []string{ref}
	}
	return s.AddImage(b, layers, nil, parent, refs...)
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
// The parent is recorded (Docker's imagedb does the same), so `images`
// hides it while it has no name and `rmi` of the child takes it along.
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
	l, err := s.PutLayer(func(w io.Writer) error {
		_, err := sn.Diff(id, w)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", id, err)
	}
	now := time.Now().UTC()
	img := imagespec.Image{
		Created: &now, Author: opts.Author, Platform: platform(), Config: cfg,
		RootFS:  imagespec.RootFS{Type: "layers", DiffIDs: append(slices.Clone(pe.config.RootFS.DiffIDs), l.DiffID)},
		History: append(slices.Clone(pe.config.History), imagespec.History{Created: &now, Author: opts.Author, Comment: opts.Message}),
	}
	return s.addConfig(img, append(s.layersOf(pe), l), pe.id, opts.Ref)
}

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
// that no container uses, and with all every image no container uses,
// starting from the images that are no other's parent (Docker's heads),
// again until nothing more goes. It returns Remove's lines and the bytes
// reclaimed: the uncompressed sizes of the layers that left the layer
// store.
func (s *Store) Prune(all bool) (lines []string, reclaimed int64, err error) {
	for {
		list, err := s.List()
		if err != nil {
			return lines, reclaimed, err
		}
		parents := map[digest.Digest]bool{}
		for _, im := range list {
			parents[im.Parent] = true
		}
		progress := false
		for _, im := range list {
			if im.InUse || parents[im.ID] || (!all && len(im.RepoTags) > 0) {
				continue
			}
			refs := im.RepoTags
			if len(refs) == 0 {
				refs = []string{im.ID.String()}
			}
			for _, ref := range refs {
				out, freed, err := s.remove(ref, false)
				if errors.Is(err, engine.ErrImageNotFound) || (err != nil && strings.HasPrefix(err.Error(), "conflict:")) {
					continue // removed meanwhile, or a container took it meanwhile
				}
				lines = append(lines, out...)
				reclaimed += freed
				if err != nil {
					return lines, reclaimed, err
				}
				progress = true
			}
		}
		if !progress {
			return lines, reclaimed, nil
		}
	}
}

// Remove is `docker rmi`: a name that the image shares with other names is
// only untagged; the last name, or the ID, deletes the image, its blobs and
// the layers no other image or container uses, and then its parents up
// the chain while each has no name, no other child and no container (the
// untagged steps of a build), one "Deleted:" line each. An image that a
// container was made from is refused (Docker's conflict), and so is an ID
// with several names unless force, and an ID with child images. It
// returns Docker's "Untagged: " and "Deleted: " lines.
func (s *Store) Remove(ref string, force bool) ([]string, error) {
	lines, _, err := s.remove(ref, force)
	return lines, err
}

func (s *Store) remove(ref string, force bool) ([]string, int64, error) {
	e, err := s.find(ref)
	if err != nil {
		return nil, 0, err
	}
	byName := false
	var full string
	if r, err := ParseReference(ref); err == nil && slices.Contains(e.refs, r.String()) {
		byName, full = true, r.String()
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	es, err := s.entries()
	if err != nil {
		return nil, 0, err
	}
	if i := slices.IndexFunc(es, func(o *entry) bool { return o.id == e.id }); i >= 0 {
		e = es[i] // as it is now, under the lock
	} else {
		return nil, 0, fmt.Errorf("%w: %s", engine.ErrImageNotFound, ref)
	}
	idx, err := s.index()
	if err != nil {
		return nil, 0, err
	}
	users := s.users(e.id)
	short := e.id.Encoded()[:12]
	children := childrenOf(es, e.id)
	familiar := func(full string) string { r, _ := ParseReference(full); return r.FamiliarString() }
	switch {
	case byName && len(e.refs) > 1:
		idx.Manifests = untag(idx.Manifests, full)
		return s.untagged(e, full, idx, es)
	case len(users) > 0 && !force:
		if byName {
			return nil, 0, fmt.Errorf("conflict: unable to remove repository reference %q (must force) - container %.12s is using its referenced image %s", familiar(full), users[0], short)
		}
		return nil, 0, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %.12s", short, users[0])
	case len(users) > 0:
		return nil, 0, fmt.Errorf("conflict: unable to delete %s (cannot be forced) - image is being used by container %.12s", short, users[0])
	case byName && len(children) > 0:
		// The last name of a parent: it goes, the image stays for its
		// children (and is an intermediate image now).
		idx.Manifests = untag(idx.Manifests, full)
		return s.untagged(e, full, idx, es)
	case len(children) > 0:
		return nil, 0, fmt.Errorf("conflict: unable to delete %s (cannot be forced) - image has dependent child images", short)
	case !byName && len(e.refs) > 1 && !force:
		return nil, 0, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short)
	}
	var out []string
	var freed int64
	for {
		lines, n, err := s.deleteLocked(e, &idx, &es)
		out = append(out, lines...)
		freed += n
		if err != nil || e.parent == "" {
			return out, freed, err
		}
		// The parent goes too while it is an untagged step of nobody else.
		i := slices.IndexFunc(es, func(p *entry) bool { return p.id == e.parent })
		if i < 0 {
			return out, freed, nil
		}
		p := es[i]
		if len(p.refs) > 0 || len(p.repoDigests) > 0 || len(s.users(p.id)) > 0 || len(childrenOf(es, p.id)) > 0 {
			return out, freed, nil
		}
		e = p
	}
}

// childrenOf returns the IDs of the images whose parent is id.
func childrenOf(es []*entry, id digest.Digest) []digest.Digest {
	var out []digest.Digest
	for _, e := range es {
		if e.parent == id && e.id != id {
			out = append(out, e.id)
		}
	}
	return out
}

// deleteLocked deletes the image e (the store's lock held): its names, its
// index entry, its manifest and config blobs, its records, and each of its
// layers that nothing else uses. es and idx are updated.
func (s *Store) deleteLocked(e *entry, idx *imagespec.Index, es *[]*entry) ([]string, int64, error) {
	var out []string
	for _, r := range e.refs {
		pr, _ := ParseReference(r)
		out = append(out, "Untagged: "+pr.FamiliarString())
	}
	for _, rd := range e.familiarDigests() {
		out = append(out, "Untagged: "+rd)
	}
	idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d imagespec.Descriptor) bool { return d.Digest == e.manifest })
	if err := s.writeIndex(*idx); err != nil {
		return nil, 0, err
	}
	*es = slices.DeleteFunc(*es, func(o *entry) bool { return o.id == e.id })
	// Blobs no other image names: the manifest, the config, and what the
	// repo digests point at (the index a multi-arch pull stored).
	used := map[digest.Digest]bool{}
	for _, o := range *es {
		used[o.manifest], used[o.id] = true, true
		for _, rd := range o.repoDigests {
			_, d, _ := strings.Cut(rd, "@")
			used[digest.Digest(d)] = true
		}
	}
	gone := []digest.Digest{e.manifest, e.id}
	for _, rd := range e.repoDigests {
		_, d, _ := strings.Cut(rd, "@")
		gone = append(gone, digest.Digest(d))
	}
	for _, b := range gone {
		if !used[b] {
			if err := s.blobs.remove(b); err != nil {
				return out, 0, err
			}
		}
	}
	if err := os.RemoveAll(filepath.Join(s.Root, "meta", e.id.Encoded())); err != nil {
		return out, 0, fmt.Errorf("image %s: %w", e.id, err)
	}
	_ = os.Remove(filepath.Join(s.Root, "users", e.id.Encoded())) // empty by now
	out = append(out, "Deleted: "+e.id.String())
	if err := s.Layers.Release(layerUser(e.id), e.config.RootFS.DiffIDs...); err != nil {
		return out, 0, err
	}
	var freed int64
	ls := s.layersOf(e)
	for i := len(ls) - 1; i >= 0; i-- {
		d := ls[i].DiffID
		err := s.Layers.Remove(d)
		if errors.Is(err, storage.ErrInUse) {
			continue
		}
		if err != nil && !errors.Is(err, storage.ErrUnknownLayer) {
			return out, freed, err
		}
		if err == nil {
			freed += ls[i].UncompressedSize
		}
		if err := s.dropLayer(d); err != nil {
			return out, freed, err
		}
	}
	return out, freed, nil
}

var _ engine.Images = (*Store)(nil)

// untagged finishes an untag of full from e (already taken out of idx):
// when no other tag of full's repository is left on e, the repository's
// digest names (repo@sha256:..., from a pull or push) go too, as Docker's
// do, each with its own "Untagged:" line.
func (s *Store) untagged(e *entry, full string, idx imagespec.Index, es []*entry) ([]string, int64, error) {
	r, _ := ParseReference(full)
	out := []string{"Untagged: " + r.FamiliarString()}
	for _, o := range e.refs {
		if or, err := ParseReference(o); err == nil && o != full && or.Repository() == r.Repository() {
			return out, 0, s.writeIndex(idx)
		}
	}
	prefix := r.Repository() + "@"
	var dropped []digest.Digest
	keep := slices.DeleteFunc(slices.Clone(e.repoDigests), func(rd string) bool {
		if d, ok := strings.CutPrefix(rd, prefix); ok {
			out = append(out, "Untagged: "+r.Familiar()+"@"+d)
			dropped = append(dropped, digest.Digest(d))
			return true
		}
		return false
	})
	if len(dropped) == 0 {
		return out, 0, s.writeIndex(idx)
	}
	if err := s.writeRepoDigests(e.id, keep); err != nil {
		return nil, 0, err
	}
	if err := s.writeIndex(idx); err != nil {
		return nil, 0, err
	}
	// An index a multi-arch pull stored is named only by its repo digest:
	// it goes when nothing names it any more.
	used := map[digest.Digest]bool{}
	for _, o := range es {
		used[o.manifest], used[o.id] = true, true
		for _, rd := range o.repoDigests {
			if o.id == e.id && strings.HasPrefix(rd, prefix) {
				continue
			}
			_, d, _ := strings.Cut(rd, "@")
			used[digest.Digest(d)] = true
		}
	}
	for _, d := range dropped {
		if !used[d] {
			if err := s.blobs.remove(d); err != nil {
				return out, 0, err
			}
		}
	}
	return out, 0, nil
}
