package image

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/ulikunitz/xz"

	"minibox/04-storage/images"
	"minibox/04-storage/storage"
)

// Compression is how a stream is compressed, told by its first bytes.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
	Bzip2
	Xz
)

var magics = []struct {
	c     Compression
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{Bzip2, []byte("BZh")},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
}

// Decompress returns r's content uncompressed (gzip, zstd, bzip2, xz or
// none, told by the magic bytes rather than a media type, which archives
// and registries do not always set right), and how it was compressed.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(6)
	c := Uncompressed
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			c = m.c
			break
		}
	}
	switch c {
	case Gzip:
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("gzip: %w", err)
		}
		return z, c, nil
	case Zstd:
		z, err := zstd.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("zstd: %w", err)
		}
		return z.IOReadCloser(), c, nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(br)), c, nil
	case Xz:
		z, err := xz.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(z), c, nil
	}
	return io.NopCloser(br), c, nil
}

// layerMediaType is the OCI media type of a layer blob compressed as c.
func layerMediaType(c Compression) string {
	switch c {
	case Gzip:
		return imagespec.MediaTypeImageLayerGzip
	case Zstd:
		return imagespec.MediaTypeImageLayerZstd
	}
	return imagespec.MediaTypeImageLayer
}

// countReader counts what is read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Unpack makes sure every layer's blob (in s.Blobs(), as a pull or a load
// stored it) is unpacked in the layer store: a layer that is there already
// is skipped (the "Already exists" of a pull), any other is decompressed
// (gzip, zstd or none) and put. What it unpacks to must hash to the diffID
// the config names, or the layer is refused: a registry, or an archive, is
// trusted only as far as the digests check out. Each prefix of the stack
// is recorded under its chainID (storage.PutChain), and each layer's blob
// and tar size in its record.
func Unpack(s *images.Store, layers []images.LayerBlob) error {
	_, err := unpack(s, layers)
	return err
}

// unpack is Unpack, returning the diffIDs it unpacked anew.
func unpack(s *images.Store, layers []images.LayerBlob) ([]digest.Digest, error) {
	var added []digest.Digest
	diffIDs := make([]digest.Digest, 0, len(layers))
	for _, l := range layers {
		if err := l.DiffID.Validate(); err != nil {
			return added, fmt.Errorf("failed to register layer: diffID %q: %w", l.DiffID, err)
		}
		diffIDs = append(diffIDs, l.DiffID)
		if s.Layers.Has(l.DiffID) {
			if _, err := s.Layers.PutChain(diffIDs); err != nil {
				return added, err
			}
			continue
		}
		rc, _, err := s.Blobs().Open(l.Digest)
		if err != nil {
			return added, fmt.Errorf("failed to register layer: %w", err)
		}
		tarStream, _, err := Decompress(rc)
		if err != nil {
			rc.Close()
			return added, fmt.Errorf("failed to register layer: %s: %w", l.Digest, err)
		}
		cr := &countReader{r: tarStream}
		got, err := s.Layers.Put(cr)
		tarStream.Close()
		rc.Close()
		if err != nil {
			return added, fmt.Errorf("failed to register layer: %w", err)
		}
		if got != l.DiffID {
			// Not the layer the config names: it goes again (unless an
			// image uses that tar already).
			if err := s.Layers.Remove(got); err != nil && !errors.Is(err, storage.ErrInUse) {
				return added, fmt.Errorf("failed to register layer: %w", err)
			}
			return added, fmt.Errorf("failed to register layer: layer %s: diffID mismatch: it unpacks to %s, the config says %s", l.Digest, got, l.DiffID)
		}
		added = append(added, got)
		l.UncompressedSize = cr.n
		if err := s.RecordBlob(l.DiffID, l); err != nil {
			return added, err
		}
		if _, err := s.Layers.PutChain(diffIDs); err != nil {
			return added, err
		}
	}
	return added, nil
}
