package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"

	"minibox/04-storage/images"
)

// maxMeta bounds what Load reads into memory (configs, manifests, the
// archive's JSON files): an archive is input, not trusted.
const maxMeta = 16 << 20

// archive is a load's tar, its files spooled to a directory and looked up
// by their cleaned names: no name from the tar ever becomes a path, so
// `../x` or an absolute name cannot write anywhere.
type archive struct {
	dir   string
	files map[string]string // archive name -> spool file
	links map[string]string // archive name -> the name it links to
}

func (a *archive) resolve(name string) (string, bool) {
	name = cleanName(name)
	for range 16 { // links to links, but no loops
		if f, ok := a.files[name]; ok {
			return f, true
		}
		t, ok := a.links[name]
		if !ok {
			return "", false
		}
		name = t
	}
	return "", false
}

func (a *archive) open(name string) (*os.File, error) {
	f, ok := a.resolve(name)
	if !ok {
		return nil, fmt.Errorf("%s: not in the archive", name)
	}
	return os.Open(f)
}

func (a *archive) read(name string) ([]byte, error) {
	f, err := a.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMeta+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxMeta {
		return nil, fmt.Errorf("%s: too large", name)
	}
	return b, nil
}

func (a *archive) has(name string) bool { _, ok := a.resolve(name); return ok }

// cleanName is an archive name relative to the archive's root ("" for
// one that climbs out of it).
func cleanName(name string) string {
	n := path.Clean("/" + strings.TrimPrefix(name, "./"))
	if strings.HasPrefix(path.Clean(strings.TrimPrefix(name, "./")), "..") || path.IsAbs(name) {
		return ""
	}
	return strings.TrimPrefix(n, "/")
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func spool(r io.Reader, dir string) (*archive, error) {
	a := &archive{dir: dir, files: map[string]string{}, links: map[string]string{}}
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the archive: %w", err)
		}
		name := cleanName(hdr.Name)
		if name == "" || name == "." {
			if hdr.Typeflag == tar.TypeDir && strings.Trim(hdr.Name, "./") == "" {
				continue
			}
			return nil, fmt.Errorf("read the archive: invalid name %q", hdr.Name)
		}
		if hdr.Typeflag == tar.TypeGNUSparse || slices.ContainsFunc(keys(hdr.PAXRecords), func(k string) bool { return strings.HasPrefix(k, "GNU.sparse.") }) {
			// A sparse entry's holes cost no input: a few bytes could
			// declare terabytes of zeros. No image archive has one.
			return nil, fmt.Errorf("read the archive: %s: sparse files are not supported", hdr.Name)
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			p := filepath.Join(dir, fmt.Sprintf("f%d", n))
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return nil, fmt.Errorf("load: %w", err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, fmt.Errorf("read the archive: %s: %w", hdr.Name, err)
			}
			a.files[name] = p
			delete(a.links, name)
		case tar.TypeSymlink:
			// docker save (before 25) links a layer.tar that two images
			// share; the target is relative to the link's directory.
			t := hdr.Linkname
			if !path.IsAbs(t) {
				t = path.Join(path.Dir(name), t)
			}
			if t = cleanName(t); t == "" {
				return nil, fmt.Errorf("read the archive: %s links out of it", hdr.Name)
			}
			a.links[name] = t
		case tar.TypeLink:
			t := cleanName(hdr.Linkname)
			if t == "" {
				return nil, fmt.Errorf("read the archive: %s links out of it", hdr.Name)
			}
			a.links[name] = t
		}
	}
	return a, nil
}

// toLoad is one image of an archive, checked and ready to store.
type toLoad struct {
	config   []byte
	diffIDs  []digest.Digest
	layers   []string // archive names of the layer blobs
	manifest []byte   // the archive's manifest, if it has one for this config
	tags     []string
}

// Load reads an archive that `docker save` (any version) or `save` wrote,
// or an OCI image layout in a tar, plain or gzip-, bzip2-, xz- or
// zstd-compressed, and stores its images: manifest.json (the
// docker-archive; a legacy one names "<id>/layer.tar" and "<id>.json")
// first, else index.json (the OCI layout). Each layer's tar must hash to
// its config's diffID. The archive is checked whole before anything is
// stored, and whatever a failed load stored goes again. It prints Docker's
// "Loaded image: NAME" for each name, or "Loaded image ID: sha256:..." for
// an image without one, and returns those names or IDs.
func Load(s *images.Store, r io.Reader, out io.Writer) ([]string, error) {
	plain, _, err := Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer plain.Close()
	tmp, release, err := s.TempDir("load-")
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer release()
	a, err := spool(plain, tmp)
	if err != nil {
		return nil, err
	}
	var todo []*toLoad
	switch {
	case a.has("manifest.json"):
		todo, err = readDockerArchive(a)
	case a.has("index.json"):
		todo, err = readOCILayout(a)
	default:
		err = errors.New("the archive holds neither manifest.json (docker save) nor index.json (an OCI layout)")
	}
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return store(s, a, todo, out)
}

func parseConfig(b []byte, nlayers int) ([]digest.Digest, error) {
	var cfg imagespec.Image
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if cfg.RootFS.Type != "layers" {
		return nil, fmt.Errorf("image config: rootfs type %q", cfg.RootFS.Type)
	}
	if len(cfg.RootFS.DiffIDs) != nlayers {
		return nil, fmt.Errorf("image config: %d diffIDs for %d layers", len(cfg.RootFS.DiffIDs), nlayers)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
			return nil, fmt.Errorf("image config: diffID %q: not a sha256 digest", d)
		}
	}
	return cfg.RootFS.DiffIDs, nil
}

func readDockerArchive(a *archive) ([]*toLoad, error) {
	b, err := a.read("manifest.json")
	if err != nil {
		return nil, err
	}
	var ms []ArchiveManifest
	if err := json.Unmarshal(b, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	// Docker 25's archives are OCI layouts too: their manifests keep an
	// image's manifest digest (and so its RepoDigests' meaning) across.
	byConfig := map[digest.Digest][]byte{}
	if a.has("index.json") {
		if ts, err := readOCILayout(a); err == nil {
			for _, t := range ts {
				byConfig[digest.FromBytes(t.config)] = t.manifest
			}
		}
	}
	var out []*toLoad
	for i, m := range ms {
		cfg, err := a.read(m.Config)
		if err != nil {
			return nil, fmt.Errorf("manifest.json entry %d: config: %w", i, err)
		}
		diffIDs, err := parseConfig(cfg, len(m.Layers))
		if err != nil {
			return nil, fmt.Errorf("manifest.json entry %d: %w", i, err)
		}
		for _, l := range m.Layers {
			if !a.has(l) {
				return nil, fmt.Errorf("manifest.json entry %d: layer %s: not in the archive", i, l)
			}
		}
		for _, t := range m.RepoTags {
			if _, err := images.ParseReference(t); err != nil {
				return nil, fmt.Errorf("manifest.json entry %d: %w", i, err)
			}
		}
		out = append(out, &toLoad{config: cfg, diffIDs: diffIDs, layers: m.Layers, tags: m.RepoTags, manifest: byConfig[digest.FromBytes(cfg)]})
	}
	return out, nil
}

// blobName is where an OCI layout keeps the blob d.
func blobName(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("digest %q: %w", d, err)
	}
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded(), nil
}

// readBlob reads a small blob of the layout and checks its digest.
func (a *archive) readBlob(d digest.Digest) ([]byte, error) {
	name, err := blobName(d)
	if err != nil {
		return nil, err
	}
	b, err := a.read(name)
	if err != nil {
		return nil, err
	}
	if digest.FromBytes(b) != d {
		return nil, fmt.Errorf("blob %s: %w", d, images.ErrDigestMismatch)
	}
	return b, nil
}

func readOCILayout(a *archive) ([]*toLoad, error) {
	b, err := a.read("index.json")
	if err != nil {
		return nil, err
	}
	idx, err := images.ParseIndex(b)
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var out []*toLoad
	for _, d := range idx.Manifests {
		t, err := readOCIImage(a, d, 0)
		if err != nil {
			return nil, err
		}
		name := d.Annotations[AnnotationImageName]
		if name == "" {
			// ref.name may be a tag only ("latest"), which names nothing.
			if n := d.Annotations[imagespec.AnnotationRefName]; strings.ContainsAny(n, ":/") {
				name = n
			}
		}
		if name != "" {
			if _, err := images.ParseReference(name); err != nil {
				return nil, fmt.Errorf("index.json: %w", err)
			}
			r, _ := images.ParseReference(name)
			name = r.FamiliarString()
		}
		if i := slices.IndexFunc(out, func(o *toLoad) bool { return string(o.config) == string(t.config) }); i >= 0 {
			t = out[i]
		} else {
			out = append(out, t)
		}
		if name != "" && !slices.Contains(t.tags, name) {
			t.tags = append(t.tags, name)
		}
	}
	return out, nil
}

func readOCIImage(a *archive, d imagespec.Descriptor, depth int) (*toLoad, error) {
	if depth > 4 {
		return nil, errors.New("index.json: indexes nested too deep")
	}
	b, err := a.readBlob(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	if images.IsIndex(d.MediaType) {
		idx, err := images.ParseIndex(b)
		if err != nil {
			return nil, err
		}
		pick, err := SelectPlatform(idx, Host())
		if err != nil {
			return nil, err
		}
		return readOCIImage(a, pick, depth+1)
	}
	var m imagespec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	cfg, err := a.readBlob(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: config: %w", d.Digest, err)
	}
	diffIDs, err := parseConfig(cfg, len(m.Layers))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	t := &toLoad{config: cfg, diffIDs: diffIDs, manifest: b}
	for _, l := range m.Layers {
		name, err := blobName(l.Digest)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: layer: %w", d.Digest, err)
		}
		if !a.has(name) {
			return nil, fmt.Errorf("manifest %s: layer %s: not in the archive", d.Digest, l.Digest)
		}
		t.layers = append(t.layers, name)
	}
	return t, nil
}

// store puts the checked images into s: the layer blobs, the unpacked
// layers, then the images. On an error it takes back what it added.
func store(s *images.Store, a *archive, todo []*toLoad, out io.Writer) (loaded []string, err error) {
	var newBlobs, newLayers, newImages []digest.Digest
	defer func() {
		if err == nil {
			return
		}
		for _, id := range newImages {
			_, _ = s.Remove(id.String(), true)
		}
		for _, d := range slices.Backward(newLayers) {
			_ = s.ForgetLayer(d)
		}
		for _, d := range newBlobs {
			_ = s.Blobs().Delete(d)
		}
	}()
	type ready struct {
		t      *toLoad
		layers []images.LayerBlob
	}
	var all []ready
	for _, t := range todo {
		var ls []images.LayerBlob
		for i, name := range t.layers {
			d, n, comp, err := a.blobInfo(name)
			if err != nil {
				return nil, fmt.Errorf("load: layer %s: %w", name, err)
			}
			if !s.Blobs().Has(d) {
				f, err := a.open(name)
				if err != nil {
					return nil, fmt.Errorf("load: %w", err)
				}
				_, err = s.Blobs().Write(d, f)
				f.Close()
				if err != nil {
					return nil, fmt.Errorf("load: layer %s: %w", name, err)
				}
				newBlobs = append(newBlobs, d)
			}
			l := images.LayerBlob{DiffID: t.diffIDs[i], Digest: d, MediaType: layerMediaType(comp), Size: n}
			if comp == Uncompressed {
				l.UncompressedSize = n
			}
			ls = append(ls, l)
		}
		added, err := unpack(s, ls)
		newLayers = append(newLayers, added...)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		all = append(all, ready{t, ls})
	}
	for _, rd := range all {
		id := digest.FromBytes(rd.t.config)
		for _, tag := range rd.t.tags {
			if old, err := s.Resolve(tag); err == nil && old.ID != id {
				fmt.Fprintf(out, "The image %s already exists, renaming the old one with ID %s to empty string\n", tag, old.ID)
			}
		}
		_, notHere := s.Resolve(id.String())
		img, err := s.AddImage(rd.t.config, rd.layers, rd.t.manifest, "", rd.t.tags...)
		if err != nil && rd.t.manifest != nil {
			img, err = s.AddImage(rd.t.config, rd.layers, nil, "", rd.t.tags...) // a manifest that does not fit: make one
		}
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		if notHere != nil {
			newImages = append(newImages, img.ID)
		}
		if len(rd.t.tags) == 0 {
			fmt.Fprintf(out, "Loaded image ID: %s\n", img.ID)
			loaded = append(loaded, img.ID.String())
		}
		for _, tag := range rd.t.tags {
			r, _ := images.ParseReference(tag)
			fmt.Fprintf(out, "Loaded image: %s\n", r.FamiliarString())
			loaded = append(loaded, r.FamiliarString())
		}
	}
	return loaded, nil
}

// blobInfo hashes the archive's file name and tells its compression.
func (a *archive) blobInfo(name string) (digest.Digest, int64, Compression, error) {
	f, err := a.open(name)
	if err != nil {
		return "", 0, 0, err
	}
	defer f.Close()
	head := make([]byte, 6)
	k, _ := io.ReadFull(f, head)
	comp := Uncompressed
	for _, m := range magics {
		if strings.HasPrefix(string(head[:k]), string(m.magic)) {
			comp = m.c
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, 0, err
	}
	dg := digest.SHA256.Digester()
	n, err := io.Copy(dg.Hash(), f)
	if err != nil {
		return "", 0, 0, err
	}
	return dg.Digest(), n, comp, nil
}
