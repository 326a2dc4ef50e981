package image

import (
	"encoding/json"
	"fmt"
	"time"

	digest "github.com/opencontainers/go-digest"

	"minibox/04-storage/images"
)

// HistoryLine is one line of `history`, newest first: the step that made a
// layer (or only changed the config: EmptyLayer, size 0).
type HistoryLine struct {
	ID         string // the step's image ID, or "<missing>" (built elsewhere, or pulled: no step images)
	Created    time.Time
	CreatedBy  string
	Size       int64 // the layer's tar bytes
	Comment    string
	Tags       []string
	EmptyLayer bool
}

// rawConfig is an image config with the fields Docker adds to the OCI one
// (a comment, the healthcheck, ONBUILD, SHELL), read from the stored bytes.
type rawConfig struct {
	Created       *time.Time      `json:"created,omitempty"`
	Author        string          `json:"author,omitempty"`
	Architecture  string          `json:"architecture"`
	Variant       string          `json:"variant,omitempty"`
	OS            string          `json:"os"`
	Comment       string          `json:"comment,omitempty"`
	DockerVersion string          `json:"docker_version,omitempty"`
	Config        json.RawMessage `json:"config,omitempty"`
	RootFS        struct {
		Type    string          `json:"type"`
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		Created    *time.Time `json:"created,omitempty"`
		CreatedBy  string     `json:"created_by,omitempty"`
		Author     string     `json:"author,omitempty"`
		Comment    string     `json:"comment,omitempty"`
		EmptyLayer bool       `json:"empty_layer,omitempty"`
	} `json:"history,omitempty"`
}

func readConfig(s *images.Store, id digest.Digest) (*rawConfig, error) {
	b, err := s.Config(id)
	if err != nil {
		return nil, err
	}
	var c rawConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", id, err)
	}
	return &c, nil
}

// History is `docker history`: the config's history entries, newest
// first, each non-empty one paired with its layer (bottom up, in the
// order of rootfs.diff_ids). The IMAGE column follows the parent chain
// (build steps and commits record it): the image itself, its parent, its
// parent's parent, and "<missing>" once the chain ends, as Docker shows
// an image pulled from a registry.
func History(s *images.Store, ref string) ([]HistoryLine, error) {
	info, err := s.Inspect(ref)
	if err != nil {
		return nil, err
	}
	cfg, err := readConfig(s, info.ID)
	if err != nil {
		return nil, err
	}
	var lines []HistoryLine
	layer := 0
	for _, h := range cfg.History {
		l := HistoryLine{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if h.Created != nil {
			l.Created = *h.Created
		}
		if !h.EmptyLayer && layer < len(info.Layers) {
			l.Size = info.Layers[layer].UncompressedSize
			layer++
		}
		lines = append([]HistoryLine{l}, lines...)
	}
	id := info.ID
	for i := range lines {
		lines[i].ID = id.String()
		names, _ := s.Names(id)
		for _, n := range names {
			if r, err := images.ParseReference(n); err == nil {
				lines[i].Tags = append(lines[i].Tags, r.FamiliarString())
			}
		}
		p, err := s.Parent(id)
		if err != nil || p == "" {
			break
		}
		id = p
	}
	return lines, nil
}

// InspectInfo is `docker image inspect`'s JSON, in Docker's shape.
type InspectInfo struct {
	ID            string `json:"Id"`
	RepoTags      []string
	RepoDigests   []string
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Config        *InspectConfig
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Size          int64
	RootFS        InspectRootFS
	Metadata      InspectMetadata
}

// InspectConfig is the image's container config as Docker prints it (the
// OCI config's fields, Docker's extensions, and the fields a container
// config has that an image leaves empty).
type InspectConfig struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Healthcheck  *Healthcheck `json:",omitempty"`
	ArgsEscaped  bool         `json:",omitempty"`
	Image        string
	Volumes      map[string]struct{}
	WorkingDir   string
	Entrypoint   []string
	OnBuild      []string
	Labels       map[string]string
	StopSignal   string   `json:",omitempty"`
	Shell        []string `json:",omitempty"`
}

// Healthcheck is Docker's HEALTHCHECK in an image config (durations in
// nanoseconds). Lesson 07 reads it.
type Healthcheck struct {
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// InspectRootFS lists the layers' diffIDs.
type InspectRootFS struct {
	Type   string
	Layers []string `json:",omitempty"`
}

// InspectMetadata is Docker's image metadata (minibox keeps no tag times).
type InspectMetadata struct {
	LastTagTime string
}

// ImageConfig reads the stored config's "config" object with Docker's
// fields (Healthcheck, OnBuild, Shell) kept, which the OCI type drops.
func ImageConfig(s *images.Store, id digest.Digest) (*InspectConfig, error) {
	cfg, err := readConfig(s, id)
	if err != nil {
		return nil, err
	}
	var c InspectConfig
	if len(cfg.Config) > 0 && string(cfg.Config) != "null" {
		if err := json.Unmarshal(cfg.Config, &c); err != nil {
			return nil, fmt.Errorf("image %s: config: %w", id, err)
		}
	}
	return &c, nil
}

// Inspect is `docker image inspect REF`.
func Inspect(s *images.Store, ref string) (*InspectInfo, error) {
	info, err := s.Inspect(ref)
	if err != nil {
		return nil, err
	}
	cfg, err := readConfig(s, info.ID)
	if err != nil {
		return nil, err
	}
	c, err := ImageConfig(s, info.ID)
	if err != nil {
		return nil, err
	}
	out := &InspectInfo{
		ID: info.ID.String(), RepoTags: nonNil(info.RepoTags), RepoDigests: nonNil(info.RepoDigests),
		Comment: cfg.Comment, DockerVersion: cfg.DockerVersion, Author: cfg.Author, Config: c,
		Architecture: cfg.Architecture, Variant: cfg.Variant, Os: cfg.OS,
		RootFS:   InspectRootFS{Type: cfg.RootFS.Type},
		Metadata: InspectMetadata{LastTagTime: "0001-01-01T00:00:00Z"},
	}
	if info.Parent != "" {
		out.Parent = info.Parent.String()
	}
	if cfg.Created != nil {
		out.Created = cfg.Created.UTC().Format(time.RFC3339Nano)
	}
	seen := map[digest.Digest]bool{}
	for _, l := range info.Layers {
		if !seen[l.DiffID] {
			out.Size += l.UncompressedSize
			seen[l.DiffID] = true
		}
	}
	for _, d := range cfg.RootFS.DiffIDs {
		out.RootFS.Layers = append(out.RootFS.Layers, d.String())
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Prune is `image prune [-a]`: images.Store.Prune, whose lines are
// Docker's ("Untagged: ...", "Deleted: sha256:..."), and the bytes the
// layers that went had.
func Prune(s *images.Store, all bool) ([]string, int64, error) {
	return s.Prune(all)
}

// DF is the images part of `system df`.
type DF struct {
	Images      []images.Summary // every image, intermediate ones too
	Total       int              // TOTAL: the images `images` lists (intermediate ones are not counted, as Docker's)
	Active      int              // ACTIVE: images a container was made from
	Size        int64            // SIZE: the bytes of the distinct layers
	Reclaimable int64            // RECLAIMABLE: of those, the bytes no active image uses
}

// DiskUsage counts the image store for `system df`.
func DiskUsage(s *images.Store) (DF, error) {
	list, err := s.List()
	if err != nil {
		return DF{}, err
	}
	df := DF{Images: list}
	for _, im := range list {
		if !im.Intermediate {
			df.Total++
		}
	}
	sizes := map[digest.Digest]int64{}
	active := map[digest.Digest]bool{}
	for _, im := range list {
		ls, err := s.ImageLayers(im.ID.String())
		if err != nil {
			return df, err
		}
		if im.InUse {
			df.Active++
		}
		for _, l := range ls {
			sizes[l.DiffID] = l.UncompressedSize
			if im.InUse {
				active[l.DiffID] = true
			}
		}
	}
	for d, n := range sizes {
		df.Size += n
		if !active[d] {
			df.Reclaimable += n
		}
	}
	return df, nil
}
