package distribution

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"

	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/06-image/image"
	"minibox/06-image/progress"
	"minibox/06-image/registry"
)

// Puller pulls images into Store.
type Puller struct {
	Store  *images.Store
	Client *registry.Client
	Out    io.Writer // Docker's pull lines
	TTY    bool      // live bars instead of one line per status
	// Platform picks the manifest of an index; zero is this machine's
	// (linux/GOARCH).
	Platform imagespec.Platform
	// Implicit: a pull that `run` or `build` makes for a missing image.
	// Docker's CLI says "Using default tag: latest" only for `pull` itself;
	// the others have named the full reference already.
	Implicit bool
}

// maxConfig bounds a config blob read into memory (Docker's limit: 8 MiB).
const maxConfig = 8 << 20

// parallel is how many layers download at once (Docker's
// --max-concurrent-downloads default is 3).
const parallel = 3

// Pull fetches ref (NAME[:TAG] or NAME@DIGEST) and returns the image.
func (p *Puller) Pull(ctx context.Context, ref string) (*engine.Image, error) {
	n, err := parseNamed(ref)
	if err != nil {
		return nil, err
	}
	out := p.Out
	if out == nil {
		out = io.Discard
	}
	if n.defaultTag && !p.Implicit {
		fmt.Fprintln(out, "Using default tag: latest")
	}
	fmt.Fprintf(out, "%s: Pulling from %s\n", n.wire(), n.ref.Path)
	repo := n.ref.Repository()

	desc, raw, err := p.Client.Resolve(ctx, repo, n.wire())
	if err != nil {
		return nil, p.resolveErr(n, err)
	}
	pulled := desc.Digest // what RepoDigests names: the index for a multi-platform name
	if isIndex(desc.MediaType) {
		var idx imagespec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, fmt.Errorf("pull %s: index: %w", n.familiar(), err)
		}
		md, err := image.SelectPlatform(idx, p.platform())
		if err != nil {
			return nil, err
		}
		if _, err := p.Store.Blobs().Write(desc.Digest, bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("pull %s: index: %w", n.familiar(), err)
		}
		if desc, raw, err = p.Client.Resolve(ctx, repo, md.Digest.String()); err != nil {
			return nil, p.resolveErr(n, err)
		}
		if desc.Digest != md.Digest {
			return nil, fmt.Errorf("pull %s: manifest %s is not %s, which the index names", n.familiar(), desc.Digest, md.Digest)
		}
	}
	if isIndex(desc.MediaType) {
		return nil, fmt.Errorf("pull %s: an index that names an index is not supported", n.familiar())
	}
	var m imagespec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("pull %s: manifest: %w", n.familiar(), err)
	}
	cfgBytes, cfg, err := p.config(ctx, repo, m.Config)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", n.familiar(), err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("pull %s: the manifest names %d layers, the config %d diffIDs", n.familiar(), len(m.Layers), len(cfg.RootFS.DiffIDs))
	}

	if img, err := p.Store.Resolve(n.full()); err == nil && img.ID == m.Config.Digest {
		if err := p.repoDigest(n, pulled); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "Digest: %s\n", pulled)
		fmt.Fprintf(out, "Status: Image is up to date for %s\n", n.familiar())
		return img, nil
	}

	layers := make([]images.LayerBlob, len(m.Layers))
	for i, l := range m.Layers {
		layers[i] = images.LayerBlob{DiffID: cfg.RootFS.DiffIDs[i], Digest: l.Digest, MediaType: l.MediaType, Size: l.Size, Source: repo}
	}
	if err := p.layers(ctx, repo, layers); err != nil {
		return nil, err
	}
	var refs []string
	if n.digest == "" {
		refs = append(refs, n.ref.String())
	}
	img, err := p.Store.AddImage(cfgBytes, layers, raw, "", refs...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", n.familiar(), err)
	}
	if err := p.repoDigest(n, pulled); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "Digest: %s\n", pulled)
	fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", n.familiar())
	return img, nil
}

// repoDigest records repo@digest for the image n names. The store finds
// the image by its name:tag; an image pulled by digest has no tag, and its
// manifest digest is in its reference already.
func (p *Puller) repoDigest(n named, d digest.Digest) error {
	if n.digest != "" {
		return nil
	}
	return p.Store.SetRepoDigest(n.full(), d)
}

func (p *Puller) platform() imagespec.Platform {
	if p.Platform.OS != "" {
		return p.Platform
	}
	return imagespec.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// resolveErr words a failed manifest lookup as Docker does.
func (p *Puller) resolveErr(n named, err error) error {
	switch {
	case registry.IsNotFound(err):
		return fmt.Errorf("manifest for %s not found: %w", n.familiar(), err)
	case registry.IsDenied(err) && !errors.Is(err, registry.ErrUnauthorized):
		return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login': %w", n.ref.Familiar(), err)
	}
	return err
}

func isIndex(mt string) bool {
	return mt == imagespec.MediaTypeImageIndex || mt == registry.MediaTypeDockerList
}

// config returns the config blob, from the store when it has it.
func (p *Puller) config(ctx context.Context, repo string, d imagespec.Descriptor) ([]byte, imagespec.Image, error) {
	var cfg imagespec.Image
	var b []byte
	if rc, _, err := p.Store.Blobs().Open(d.Digest); err == nil {
		b, err = io.ReadAll(io.LimitReader(rc, maxConfig))
		rc.Close()
		if err != nil {
			return nil, cfg, fmt.Errorf("config %s: %w", d.Digest, err)
		}
	} else {
		rc, _, err := p.Client.Fetch(ctx, repo, d.Digest)
		if err != nil {
			return nil, cfg, fmt.Errorf("config %s: %w", d.Digest, err)
		}
		b, err = io.ReadAll(io.LimitReader(rc, maxConfig+1))
		rc.Close()
		if err != nil {
			return nil, cfg, fmt.Errorf("config %s: %w", d.Digest, err)
		}
		if len(b) > maxConfig {
			return nil, cfg, fmt.Errorf("config %s: larger than %d bytes", d.Digest, maxConfig)
		}
	}
	if got := digest.FromBytes(b); got != d.Digest {
		return nil, cfg, fmt.Errorf("config %s: %w: got %s", d.Digest, images.ErrDigestMismatch, got)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, cfg, fmt.Errorf("config %s: %w", d.Digest, err)
	}
	return b, cfg, nil
}

// have reports whether layer l needs no download: it is unpacked and its
// blob, in the form this manifest names, is stored.
func (p *Puller) have(l images.LayerBlob) bool {
	return p.Store.Layers.Has(l.DiffID) && p.Store.Blobs().Has(l.Digest)
}

// layers downloads what is missing, at most parallel at once, and unpacks
// each layer in order, bottom first, as soon as it and those below it are
// there. The first error cancels the rest; every download writes through
// Blobs.Write, so a cancelled or corrupt one leaves nothing.
func (p *Puller) layers(ctx context.Context, repo string, layers []images.LayerBlob) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr := progress.New(p.outOrDiscard(), p.TTY)
	bars := make([]*progress.Bar, len(layers))
	done := make([]chan error, len(layers))
	need := make([]bool, len(layers)) // to download (fixed before any goroutine starts)
	seen := map[digest.Digest]int{}   // a blob named twice is fetched once
	queued := 0
	for i, l := range layers {
		done[i] = make(chan error, 1)
		if j, dup := seen[l.Digest]; dup {
			bars[i] = bars[j]
			continue
		}
		seen[l.Digest] = i
		if p.have(l) {
			bars[i] = pr.Bar(short(l.Digest), "Already exists", 0)
			done[i] <- nil
			continue
		}
		need[i] = true
		bars[i] = pr.Bar(short(l.Digest), "Pulling fs layer", l.Size)
	}
	// Beyond the first parallel downloads, a layer waits for a slot.
	for i := range layers {
		if need[i] {
			if queued >= parallel {
				bars[i].Status("Waiting")
			}
			queued++
		}
	}
	// The downloads: a feeder starts them in layer order, parallel at a time.
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, l := range layers {
			if !need[i] {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				done[i] <- ctx.Err()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				done[i] <- p.download(ctx, repo, l, bars[i])
			}()
		}
	}()
	err := p.unpack(ctx, layers, bars, done, seen, need)
	cancel()
	wg.Wait()
	pr.Wait()
	return err
}

// unpack waits for each layer's download, bottom first, and unpacks it.
func (p *Puller) unpack(ctx context.Context, layers []images.LayerBlob, bars []*progress.Bar, done []chan error, seen map[digest.Digest]int, downloaded []bool) error {
	for i, l := range layers {
		first := seen[l.Digest]
		if first == i {
			if err := <-done[i]; err != nil {
				return err
			}
		}
		switch {
		case !p.Store.Layers.Has(l.DiffID):
			bars[i].Status("Extracting")
			if err := image.Unpack(p.Store, layers[:i+1]); err != nil {
				return err
			}
			bars[i].Status("Pull complete")
		case first == i && downloaded[i]:
			// Unpacked before, from another blob form: only the blob was missing.
			bars[i].Status("Pull complete")
		}
		if err := p.Store.RecordBlob(l.DiffID, l); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// download fetches one layer blob into the content store.
func (p *Puller) download(ctx context.Context, repo string, l images.LayerBlob, bar *progress.Bar) error {
	bar.Status("Downloading")
	rc, _, err := p.Client.Fetch(ctx, repo, l.Digest)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer rc.Close()
	if _, err := p.Store.Blobs().Write(l.Digest, bar.Reader(rc)); err != nil {
		if errors.Is(err, images.ErrDigestMismatch) {
			return fmt.Errorf("filesystem layer verification failed for digest %s: %w", l.Digest, err)
		}
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	bar.Status("Verifying Checksum")
	bar.Status("Download complete")
	return nil
}

func (p *Puller) outOrDiscard() io.Writer {
	if p.Out == nil {
		return io.Discard
	}
	return p.Out
}
