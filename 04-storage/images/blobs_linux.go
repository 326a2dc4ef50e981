package images

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"minibox/04-storage/storage"
	"minibox/internal/atomicfile"
)

// ErrDigestMismatch is returned when content does not hash to the digest
// that names it (a corrupt download, a wrong archive).
var ErrDigestMismatch = errors.New("digest mismatch")

// Blobs is the content store under DATA/images/blobs: every blob (config,
// manifest, index, layer tar, compressed or not) in a file named by its
// digest, as the OCI image layout keeps them. A blob is written to a
// temporary file, synced and renamed into place only once its digest is
// checked, so a reader sees it whole or not at all, and two processes that
// write the same blob at once both end with the one file.
type Blobs struct {
	root string // DATA/images/blobs
	tmp  string // DATA/images/tmp: blobs being written
}

// Path is where blob d lives (whether it is there or not).
func (b *Blobs) Path(d digest.Digest) string {
	return filepath.Join(b.root, d.Algorithm().String(), d.Encoded())
}

// Has reports whether the store holds the blob d.
func (b *Blobs) Has(d digest.Digest) bool {
	if d.Validate() != nil {
		return false
	}
	fi, err := os.Stat(b.Path(d))
	return err == nil && fi.Mode().IsRegular()
}

// Open opens the blob d for reading and returns its size. The caller that
// needs the content checked hashes what it reads (the file was checked
// when it was written).
func (b *Blobs) Open(d digest.Digest) (io.ReadCloser, int64, error) {
	if err := d.Validate(); err != nil {
		return nil, 0, fmt.Errorf("blob %q: %w", d, err)
	}
	f, err := os.Open(b.Path(d))
	if err != nil {
		return nil, 0, fmt.Errorf("blob %s: %w", d, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("blob %s: %w", d, err)
	}
	return f, fi.Size(), nil
}

// Write stores the content of r as the blob expected and returns its size.
// Content that does not hash to expected is thrown away (ErrDigestMismatch)
// and nothing is left behind. A blob that is there already is not written
// again, and r is not read.
func (b *Blobs) Write(expected digest.Digest, r io.Reader) (int64, error) {
	if err := expected.Validate(); err != nil || expected.Algorithm() != digest.SHA256 {
		return 0, fmt.Errorf("blob %q: not a sha256 digest", expected)
	}
	if fi, err := os.Stat(b.Path(expected)); err == nil && fi.Mode().IsRegular() {
		return fi.Size(), nil
	}
	_, n, err := b.write(expected, r)
	return n, err
}

// Put stores the content of r under the digest it hashes to.
func (b *Blobs) Put(r io.Reader) (digest.Digest, int64, error) { return b.write("", r) }

// PutBytes stores p and returns its descriptor's digest and size.
func (b *Blobs) PutBytes(p []byte) (digest.Digest, error) {
	d := digest.FromBytes(p)
	if b.Has(d) {
		return d, nil
	}
	if err := atomicfile.WriteFile(b.Path(d), p, 0o600); err != nil {
		return "", fmt.Errorf("write blob %s: %w", d, err)
	}
	return d, nil
}

// write copies r into a temporary file (flock(2)ed while it is written, so
// that New can tell a dead writer's leftovers from a live one's), checks
// the digest when expected is set, and renames the file into place.
func (b *Blobs) write(expected digest.Digest, r io.Reader) (digest.Digest, int64, error) {
	w, err := b.create()
	if err != nil {
		return "", 0, err
	}
	n, err := io.Copy(w, r)
	if err != nil {
		w.abort()
		return "", n, fmt.Errorf("write blob: %w", err)
	}
	d, err := w.commit(expected)
	return d, n, err
}

// blobWriter is a blob on its way into the store.
type blobWriter struct {
	b *Blobs
	f *os.File
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (b *Blobs) create() (*blobWriter, error) {
	if err := os.MkdirAll(b.tmp, 0o700); err != nil {
		return nil, fmt.Errorf("write blob: %w", err)
	}
	f, err := os.CreateTemp(b.tmp, "blob-")
	if err != nil {
		return nil, fmt.Errorf("write blob: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("write blob: lock %s: %w", f.Name(), err)
	}
	return &blobWriter{b: b, f: f, h: sha256.New()}, nil
}

func (w *blobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

func (w *blobWriter) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

func (w *blobWriter) digest() digest.Digest {
	return digest.NewDigestFromBytes(digest.SHA256, w.h.Sum(nil))
}

func (w *blobWriter) commit(expected digest.Digest) (digest.Digest, error) {
	got := w.digest()
	if expected != "" && got != expected {
		w.abort()
		return "", fmt.Errorf("blob %s: %w: the content hashes to %s", expected, ErrDigestMismatch, got)
	}
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	dst := w.b.Path(got)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(dst), 0o700)
	}
	if err == nil {
		err = os.Rename(w.f.Name(), dst) // the same content under the same name: a race is harmless
	}
	if err != nil {
		os.Remove(w.f.Name())
		return "", fmt.Errorf("write blob %s: %w", got, err)
	}
	return got, nil
}

// Delete removes the blob d (gone already is fine). Only for a blob that
// no image, layer record or index names: a load or a pull taking back
// what it wrote.
func (b *Blobs) Delete(d digest.Digest) error { return b.remove(d) }

// remove deletes the blob d (gone already is fine).
func (b *Blobs) remove(d digest.Digest) error {
	if d.Validate() != nil {
		return nil
	}
	if err := os.Remove(b.Path(d)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove blob %s: %w", d, err)
	}
	return nil
}

// cleanTmp removes what dead writers left in the tmp directory: a live
// writer holds its file's (or directory's) flock, and the kernel drops
// the lock of a process that ends, however it ends. An entry younger than
// a minute stays whatever its lock: its writer may be between creating it
// and locking it.
func (b *Blobs) cleanTmp() {
	ents, _ := os.ReadDir(b.tmp)
	for _, e := range ents {
		p := filepath.Join(b.tmp, e.Name())
		fi, err := os.Lstat(p)
		if err != nil || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			_ = os.RemoveAll(p)
		}
		f.Close()
	}
}

// TempDir makes a private directory under DATA/images/tmp (on the same
// file system as the blobs, so a file made there can be renamed into the
// store), flock(2)ed until release, which also removes it. A process that
// dies leaves it to the next New.
func (s *Store) TempDir(prefix string) (string, func(), error) {
	if err := os.MkdirAll(s.blobs.tmp, 0o700); err != nil {
		return "", nil, fmt.Errorf("image store: %w", err)
	}
	dir, err := os.MkdirTemp(s.blobs.tmp, prefix)
	if err != nil {
		return "", nil, fmt.Errorf("image store: %w", err)
	}
	f, err := os.Open(dir)
	if err == nil {
		if err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("image store: lock %s: %w", dir, err)
	}
	return dir, func() { os.RemoveAll(dir); f.Close() }, nil
}

// Blobs returns the content store under DATA/images/blobs.
func (s *Store) Blobs() *Blobs { return s.blobs }

// LayerBlob is one layer of an image as its manifest names it: the blob
// (Digest, MediaType, Size: what a registry serves; compressed or not)
// and what it unpacks to (DiffID, UncompressedSize: the tar's digest and
// size). Source is the repository it came from (docker.io/library/busybox),
// "" for a layer made here.
type LayerBlob struct {
	DiffID, Digest   digest.Digest
	MediaType        string
	Size             int64
	UncompressedSize int64
	Source           string
}

// Uncompressed reports whether the blob is the layer's tar as it is.
func (l LayerBlob) Uncompressed() bool {
	return l.Digest == l.DiffID || l.MediaType == imagespec.MediaTypeImageLayer || l.MediaType == "application/vnd.docker.image.rootfs.diff.tar"
}

// LayerRecord is DATA/images/layers/<diffID hex>.json: what the store
// knows of one layer besides its unpacked files (Docker keeps the same in
// its v2metadata): its tar's size and every blob form of it that the store
// holds or a registry was seen to hold, with the repositories that have it
// (so a push can skip a blob or mount it from a repository on the same
// registry instead of uploading it).
type LayerRecord struct {
	Size  int64        `json:"size"`
	Blobs []BlobRecord `json:"blobs"`
}

// BlobRecord is one blob form of a layer.
type BlobRecord struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	Sources   []string      `json:"sources,omitempty"`
}

func (s *Store) recordPath(diffID digest.Digest) (string, error) {
	if err := diffID.Validate(); err != nil || diffID.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("diffID %q: not a sha256 digest", diffID)
	}
	return filepath.Join(s.Root, "layers", diffID.Encoded()+".json"), nil
}

// LayerRecord returns the layer record of diffID (storage.ErrUnknownLayer
// when there is none).
func (s *Store) LayerRecord(diffID digest.Digest) (LayerRecord, error) {
	var rec LayerRecord
	p, err := s.recordPath(diffID)
	if err != nil {
		return rec, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return rec, fmt.Errorf("%w %s", storage.ErrUnknownLayer, diffID)
	}
	if err != nil {
		return rec, fmt.Errorf("layer record %s: %w", diffID, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("layer record %s: %w", diffID, err)
	}
	return rec, nil
}

// Layer returns the layer diffID's first blob form that the store holds
// (the one it was made or pulled as), from its layer record.
func (s *Store) Layer(diffID digest.Digest) (LayerBlob, error) {
	rec, err := s.LayerRecord(diffID)
	if err != nil {
		return LayerBlob{}, err
	}
	for _, b := range rec.Blobs {
		if s.blobs.Has(b.Digest) {
			return recordBlob(diffID, rec, b), nil
		}
	}
	return LayerBlob{}, fmt.Errorf("layer %s: %w: no blob of it is stored", diffID, storage.ErrUnknownLayer)
}

// LayerBlobs returns every blob form of the layer diffID that its record
// names, held here or not (Source is each blob's first source).
func (s *Store) LayerBlobs(diffID digest.Digest) ([]LayerBlob, error) {
	rec, err := s.LayerRecord(diffID)
	if err != nil {
		return nil, err
	}
	var out []LayerBlob
	for _, b := range rec.Blobs {
		out = append(out, recordBlob(diffID, rec, b))
	}
	return out, nil
}

func recordBlob(diffID digest.Digest, rec LayerRecord, b BlobRecord) LayerBlob {
	l := LayerBlob{DiffID: diffID, Digest: b.Digest, MediaType: b.MediaType, Size: b.Size, UncompressedSize: rec.Size}
	if len(b.Sources) > 0 {
		l.Source = b.Sources[0]
	}
	return l
}

// RecordBlob adds a blob form (or a source of a known form) of the layer
// diffID to its record: a pull records the registry's blob, a push the
// gzip blob it made and the repository it went to.
func (s *Store) RecordBlob(diffID digest.Digest, b LayerBlob) error {
	if err := b.Digest.Validate(); err != nil {
		return fmt.Errorf("record blob of %s: %w", diffID, err)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.recordBlob(diffID, b)
}

func (s *Store) recordBlob(diffID digest.Digest, b LayerBlob) error {
	p, err := s.recordPath(diffID)
	if err != nil {
		return err
	}
	rec, err := s.LayerRecord(diffID)
	if err != nil && !errors.Is(err, storage.ErrUnknownLayer) {
		return err
	}
	if b.UncompressedSize > 0 {
		rec.Size = b.UncompressedSize
	}
	if b.MediaType == "" {
		b.MediaType = imagespec.MediaTypeImageLayer
	}
	i := slices.IndexFunc(rec.Blobs, func(r BlobRecord) bool { return r.Digest == b.Digest })
	if i < 0 {
		rec.Blobs = append(rec.Blobs, BlobRecord{Digest: b.Digest, MediaType: b.MediaType, Size: b.Size})
		i = len(rec.Blobs) - 1
	}
	if b.Source != "" && !slices.Contains(rec.Blobs[i].Sources, b.Source) {
		rec.Blobs[i].Sources = append(rec.Blobs[i].Sources, b.Source)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("layer record %s: %w", diffID, err)
	}
	return atomicfile.WriteFile(p, data, 0o600)
}

// ForgetLayer removes the layer diffID from the layer store, with its
// record and its blobs, unless anyone uses it (storage.ErrInUse): a load
// or a pull taking back a layer it unpacked when it fails later.
func (s *Store) ForgetLayer(diffID digest.Digest) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.Layers.Remove(diffID); err != nil && !errors.Is(err, storage.ErrUnknownLayer) {
		return err
	}
	return s.dropLayer(diffID)
}

// dropLayer removes the record and the blobs of a layer that the layer
// store no longer holds.
func (s *Store) dropLayer(diffID digest.Digest) error {
	rec, err := s.LayerRecord(diffID)
	if errors.Is(err, storage.ErrUnknownLayer) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, b := range rec.Blobs {
		if err := s.blobs.remove(b.Digest); err != nil {
			return err
		}
	}
	p, _ := s.recordPath(diffID)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("layer record %s: %w", diffID, err)
	}
	return nil
}

// PutLayer stores a layer that write produces as an uncompressed tar (an
// import, a commit's diff, a build step's diff): the stream is unpacked
// into the layer store (Layers.Put) and, through an io.TeeReader, kept
// byte for byte as the blob named by its diffID. Re-tarring the unpacked
// files would not give those bytes back (entry order, user names, PAX
// records are lost), and a blob's digest must match its bytes forever:
// a registry and `save` need the tar as it was. The blob costs disk, which
// is containerd's answer too (Docker keeps tar-split metadata instead).
func (s *Store) PutLayer(write func(w io.Writer) error) (LayerBlob, error) {
	bw, err := s.blobs.create()
	if err != nil {
		return LayerBlob{}, err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := write(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	diffID, err := s.Layers.Put(io.TeeReader(pr, bw))
	if err == nil {
		_, err = io.Copy(bw, pr) // Put reads to the end already; this is a guard
	}
	pr.CloseWithError(io.ErrClosedPipe) // a writer still writing stops
	if werr := <-done; err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		bw.abort()
		return LayerBlob{}, fmt.Errorf("put layer: %w", err)
	}
	n := bw.n
	if _, err := bw.commit(diffID); err != nil {
		return LayerBlob{}, fmt.Errorf("put layer: %w", err)
	}
	l := LayerBlob{DiffID: diffID, Digest: diffID, MediaType: imagespec.MediaTypeImageLayer, Size: n, UncompressedSize: n}
	if err := s.RecordBlob(diffID, l); err != nil {
		return LayerBlob{}, err
	}
	return l, nil
}

// layersOf returns the image's layers as its manifest names them, with
// the diffIDs of its config and the tar sizes of the layer records.
func (s *Store) layersOf(e *entry) []LayerBlob {
	var out []LayerBlob
	for i, d := range e.config.RootFS.DiffIDs {
		l := LayerBlob{DiffID: d, Digest: d, MediaType: imagespec.MediaTypeImageLayer}
		if i < len(e.m.Layers) {
			l.Digest, l.MediaType, l.Size = e.m.Layers[i].Digest, e.m.Layers[i].MediaType, e.m.Layers[i].Size
		}
		l.UncompressedSize = l.Size
		if rec, err := s.LayerRecord(d); err == nil {
			l.UncompressedSize = rec.Size
			if j := slices.IndexFunc(rec.Blobs, func(b BlobRecord) bool { return b.Digest == l.Digest }); j >= 0 && len(rec.Blobs[j].Sources) > 0 {
				l.Source = rec.Blobs[j].Sources[0]
			}
		} else if !l.Uncompressed() {
			l.UncompressedSize = 0
		}
		out = append(out, l)
	}
	return out
}

// ImageLayers returns the layers of the image ref (any form Resolve takes),
// bottom first, as its manifest names them.
func (s *Store) ImageLayers(ref string) ([]LayerBlob, error) {
	e, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	return s.layersOf(e), nil
}

// mediaTypeOf reads the mediaType field of a manifest or index.
func mediaTypeOf(b []byte) string {
	var v struct {
		MediaType string `json:"mediaType"`
	}
	_ = json.Unmarshal(b, &v)
	return v.MediaType
}

// isIndex reports whether a media type is a list of manifests.
func isIndex(mt string) bool {
	return mt == imagespec.MediaTypeImageIndex || mt == MediaTypeDockerList
}

// Docker's media types (schema 2), which registries still serve.
const (
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig   = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

func trimSHA(d digest.Digest) string { return strings.TrimPrefix(d.String(), "sha256:") }
