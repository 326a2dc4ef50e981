package build

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"

	"minibox/04-storage/images"
)

// HealthConfig is Docker's HEALTHCHECK in the image config (lesson 07's
// healthchecks read it). Its field order is Docker's, which matters: the
// history line prints it with %q, as Docker does.
type HealthConfig struct {
	Test        []string      `json:",omitempty"` // ["NONE"], ["CMD", argv...] or ["CMD-SHELL", command]
	Interval    time.Duration `json:",omitempty"` // 0: inherit (30s by default)
	Timeout     time.Duration `json:",omitempty"`
	StartPeriod time.Duration `json:",omitempty"`
	// StartInterval is Docker 25's; the 20.10 history line leaves it out.
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// Config is an image's runtime config as Docker writes it: the OCI fields
// plus Docker's extensions, which the OCI image spec does not have
// (Healthcheck, OnBuild triggers, SHELL). An OCI reader ignores them.
type Config struct {
	imagespec.ImageConfig
	Healthcheck *HealthConfig `json:"Healthcheck,omitempty"`
	OnBuild     []string      `json:"OnBuild,omitempty"`
	Shell       []string      `json:"Shell,omitempty"`
}

// Image is an image config (the blob whose digest is the image ID) with
// Docker's Config. Its Config field shadows the embedded OCI one, in Go
// and in JSON.
type Image struct {
	imagespec.Image
	Config Config `json:"config,omitempty"`
}

// emptyTar is the diffID of a layer with nothing in it (1024 zero bytes):
// a step that changed no file gets no layer, only a history entry marked
// empty_layer, as Docker does.
var emptyTar = digest.FromBytes(make([]byte, 1024))

// loadImage reads the image id's config as it is stored (Store.Config),
// so that Docker's extensions survive (engine.Image has the OCI fields
// only), and its layers as its manifest names them (Store.ImageLayers).
func loadImage(s *images.Store, id digest.Digest) (Image, []images.LayerBlob, error) {
	var img Image
	b, err := s.Config(id)
	if err != nil {
		return img, nil, fmt.Errorf("image %s: %w", short(id), err)
	}
	if err := json.Unmarshal(b, &img); err != nil {
		return img, nil, fmt.Errorf("image %s: config: %w", short(id), err)
	}
	layers, err := s.ImageLayers(id.String())
	if err != nil {
		return img, nil, fmt.Errorf("image %s: %w", short(id), err)
	}
	if len(layers) != len(img.RootFS.DiffIDs) {
		return img, nil, fmt.Errorf("image %s: %d layers in its manifest, %d diffIDs in its config", short(id), len(layers), len(img.RootFS.DiffIDs))
	}
	return img, layers, nil
}

// clone deep-copies a config (the next step must not share slices or
// maps with the image before it).
func (c Config) clone() Config {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // a Config always marshals
	}
	var out Config
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// marshal gives the config blob's bytes.
func (img Image) marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(img); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// setEnv sets k=v in env, replacing an earlier k (ENV's rule).
func setEnv(env []string, k, v string) []string {
	out := slices.Clone(env)
	for i, e := range out {
		if ek, _, _ := cutEq(e); ek == k {
			out[i] = k + "=" + v
			return out
		}
	}
	return append(out, k+"="+v)
}

func cutEq(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
