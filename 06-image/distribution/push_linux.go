package distribution

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"

	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/06-image/progress"
	"minibox/06-image/registry"
)

// Pusher pushes images from Store.
type Pusher struct {
	Store  *images.Store
	Client *registry.Client
	Out    io.Writer // Docker's push lines
	TTY    bool
}

// Media types of a gzip layer: the OCI one, and Docker schema2's.
const (
	mediaTypeDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mediaTypeDockerTar   = "application/vnd.docker.image.rootfs.diff.tar"
)

// Push uploads ref (NAME[:TAG]) to its registry and returns the digest of
// the manifest the registry now has under the tag.
func (p *Pusher) Push(ctx context.Context, ref string) (digest.Digest, error) {
	n, err := parseNamed(ref)
	if err != nil {
		return "", err
	}
	if n.digest != "" {
		return "", fmt.Errorf("cannot push a digest reference: %s", ref)
	}
	out := p.Out
	if out == nil {
		out = io.Discard
	}
	if n.defaultTag {
		fmt.Fprintln(out, "Using default tag: latest")
	}
	img, err := p.Store.Resolve(n.full())
	if errors.Is(err, engine.ErrImageNotFound) {
		return "", fmt.Errorf("An image does not exist locally with the tag: %s", n.ref.Familiar())
	}
	if err != nil {
		return "", err
	}
	repo := n.ref.Repository()
	fmt.Fprintf(out, "The push refers to repository [%s]\n", repo)

	mdesc, raw, err := p.Store.Manifest(img.ID)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", n.familiar(), err)
	}
	var m imagespec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("push %s: manifest: %w", n.familiar(), err)
	}
	if len(m.Layers) != len(img.DiffIDs) {
		return "", fmt.Errorf("push %s: the manifest names %d layers, the config %d diffIDs", n.familiar(), len(m.Layers), len(img.DiffIDs))
	}

	// Plain tars are pushed gzipped: a registry serves what it was given,
	// and Docker's pull wants compressed layers.
	changed := false
	layers := make([]images.LayerBlob, len(m.Layers))
	for i, l := range m.Layers {
		lb := images.LayerBlob{DiffID: img.DiffIDs[i], Digest: l.Digest, MediaType: l.MediaType, Size: l.Size}
		if uncompressed(lb) {
			if lb, err = p.gzipped(lb); err != nil {
				return "", fmt.Errorf("push %s: %w", n.familiar(), err)
			}
			// The gzip media type of the manifest's kind: schema2 stays schema2.
			lb.MediaType = imagespec.MediaTypeImageLayerGzip
			if mdesc.MediaType == registry.MediaTypeDockerManifest {
				lb.MediaType = mediaTypeDockerLayer
			}
			m.Layers[i] = imagespec.Descriptor{MediaType: lb.MediaType, Digest: lb.Digest, Size: lb.Size}
			changed = true
		}
		layers[i] = lb
	}
	mediaType := mdesc.MediaType
	if changed {
		// A new manifest of the same kind (OCI unless it was schema2)
		// naming the gzip blobs; the stored one stays, the image's as made.
		if mdesc.MediaType != registry.MediaTypeDockerManifest {
			m.MediaType = imagespec.MediaTypeImageManifest
		}
		m.SchemaVersion = 2
		if m.Config.MediaType == "" {
			m.Config.MediaType = imagespec.MediaTypeImageConfig
		}
		if raw, err = json.Marshal(m); err != nil {
			return "", fmt.Errorf("push %s: manifest: %w", n.familiar(), err)
		}
		mediaType = m.MediaType
		if _, err := p.Store.Blobs().Write(digest.FromBytes(raw), bytes.NewReader(raw)); err != nil {
			return "", fmt.Errorf("push %s: manifest: %w", n.familiar(), err)
		}
	}
	if mediaType == "" {
		mediaType = imagespec.MediaTypeImageManifest
	}

	pr := progress.New(out, p.TTY)
	bars := make([]*progress.Bar, len(layers))
	seen := map[digest.Digest]bool{}
	for i := len(layers) - 1; i >= 0; i-- { // Docker lists the top layer first
		if seen[layers[i].Digest] {
			continue
		}
		seen[layers[i].Digest] = true
		bars[i] = pr.Bar(short(layers[i].DiffID), "Preparing", layers[i].Size)
	}
	for i := len(layers) - 1; i >= 0; i-- {
		if bars[i] == nil {
			continue
		}
		if err := p.layer(ctx, repo, layers[i], bars[i]); err != nil {
			pr.Wait()
			return "", fmt.Errorf("push %s: %w", n.familiar(), err)
		}
	}
	pr.Wait()
	if err := p.blob(ctx, repo, m.Config); err != nil {
		return "", fmt.Errorf("push %s: config: %w", n.familiar(), err)
	}
	d, err := p.Client.PutManifest(ctx, repo, n.ref.Tag, mediaType, raw)
	if err != nil {
		return "", fmt.Errorf("push %s: manifest: %w", n.familiar(), err)
	}
	if err := p.Store.SetRepoDigest(n.full(), d); err != nil {
		return "", err
	}
	fmt.Fprintf(out, "%s: digest: %s size: %d\n", n.ref.Tag, d, len(raw))
	return d, nil
}

func uncompressed(l images.LayerBlob) bool {
	return l.Digest == l.DiffID || l.MediaType == imagespec.MediaTypeImageLayer || l.MediaType == mediaTypeDockerTar
}

// gzipped returns the gzip form of a plain layer: the one recorded and
// stored by an earlier push, or a new one, written once and recorded.
func (p *Pusher) gzipped(l images.LayerBlob) (images.LayerBlob, error) {
	if forms, err := p.Store.LayerBlobs(l.DiffID); err == nil {
		for _, f := range forms {
			if !uncompressed(f) && strings.HasSuffix(f.MediaType, "gzip") && p.Store.Blobs().Has(f.Digest) {
				return f, nil
			}
		}
	}
	src, size, err := p.Store.Blobs().Open(l.Digest)
	if err != nil {
		return l, fmt.Errorf("layer %s: %w", l.DiffID, err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Join(p.Store.Root, "tmp"), "push-*.tar.gz") // a dead push's file is cleaned with the rest
	if err != nil {
		return l, fmt.Errorf("layer %s: %w", l.DiffID, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := digest.SHA256.Digester()
	// gzip.NewWriter writes no name and mtime 0: the same tar, the same blob.
	zw := gzip.NewWriter(io.MultiWriter(tmp, h.Hash()))
	if _, err := io.Copy(zw, src); err != nil {
		return l, fmt.Errorf("layer %s: gzip: %w", l.DiffID, err)
	}
	if err := zw.Close(); err != nil {
		return l, fmt.Errorf("layer %s: gzip: %w", l.DiffID, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return l, fmt.Errorf("layer %s: %w", l.DiffID, err)
	}
	gz := images.LayerBlob{DiffID: l.DiffID, Digest: h.Digest(), MediaType: imagespec.MediaTypeImageLayerGzip, UncompressedSize: size}
	if gz.Size, err = p.Store.Blobs().Write(gz.Digest, tmp); err != nil {
		return l, fmt.Errorf("layer %s: %w", l.DiffID, err)
	}
	if err := p.Store.RecordBlob(l.DiffID, gz); err != nil {
		return l, err
	}
	return gz, nil
}

// layer pushes one layer blob: skipped when there, mounted when the store
// saw it in another repository of this registry, else uploaded.
func (p *Pusher) layer(ctx context.Context, repo string, l images.LayerBlob, bar *progress.Bar) error {
	ok, err := p.Client.Exists(ctx, repo, l.Digest)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.DiffID, err)
	}
	if ok {
		bar.Status("Layer already exists")
	} else {
		from := p.mountSource(repo, l)
		mounted, err := p.Client.Push(ctx, repo, imagespec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size}, func() (io.ReadCloser, error) {
			rc, _, err := p.Store.Blobs().Open(l.Digest)
			if err != nil {
				return nil, err
			}
			bar.Status("Pushing")
			return readCloser{bar.Reader(rc), rc}, nil
		}, from)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.DiffID, err)
		}
		if mounted {
			bar.Status("Mounted from " + pathOf(from))
		} else {
			bar.Status("Pushed")
		}
	}
	l.Source = repo
	return p.Store.RecordBlob(l.DiffID, l)
}

// blob pushes a blob that needs no progress line (the config).
func (p *Pusher) blob(ctx context.Context, repo string, d imagespec.Descriptor) error {
	ok, err := p.Client.Exists(ctx, repo, d.Digest)
	if err != nil || ok {
		return err
	}
	_, err = p.Client.Push(ctx, repo, d, func() (io.ReadCloser, error) {
		rc, _, err := p.Store.Blobs().Open(d.Digest)
		return rc, err
	}, "")
	return err
}

// mountSource is a repository of repo's registry that the layer record
// says has this blob (Docker's v2metadata), "" when none is known.
func (p *Pusher) mountSource(repo string, l images.LayerBlob) string {
	rec, err := p.Store.LayerRecord(l.DiffID)
	if err != nil {
		return ""
	}
	to, err := images.ParseReference(repo)
	if err != nil {
		return ""
	}
	for _, b := range rec.Blobs {
		if b.Digest != l.Digest {
			continue
		}
		for _, src := range b.Sources {
			r, err := images.ParseReference(src)
			if err == nil && src != repo && registry.HostOf(r) == registry.HostOf(to) {
				return src
			}
		}
	}
	return ""
}

// pathOf is a repository's path on its registry: "Mounted from library/busybox".
func pathOf(repo string) string {
	if r, err := images.ParseReference(repo); err == nil {
		return r.Path
	}
	return repo
}

type readCloser struct {
	io.Reader
	io.Closer
}
