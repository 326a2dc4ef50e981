package image

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Host is the platform this program runs on (linux/amd64, linux/arm64/v8).
func Host() imagespec.Platform {
	p := imagespec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if p.Architecture == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// Normalize spells a platform the way registries do: x86_64 is amd64,
// aarch64 is arm64 (whose only variant in practice is v8, so none means
// v8), armhf is arm/v7 and a bare arm is v7.
func Normalize(p imagespec.Platform) imagespec.Platform {
	p.OS = strings.ToLower(p.OS)
	p.Architecture = strings.ToLower(p.Architecture)
	p.Variant = strings.ToLower(p.Variant)
	switch p.Architecture {
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	case "i386", "i686":
		p.Architecture = "386"
	}
	switch {
	case p.Architecture == "amd64" && p.Variant == "v1":
		p.Variant = ""
	case p.Architecture == "arm64" && (p.Variant == "" || p.Variant == "8"):
		p.Variant = "v8"
	case p.Architecture == "arm" && p.Variant == "":
		p.Variant = "v7"
	case p.Architecture == "arm" && len(p.Variant) == 1:
		p.Variant = "v" + p.Variant
	}
	return p
}

// FormatPlatform is os/arch[/variant], as Docker prints a platform.
func FormatPlatform(p imagespec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// ErrNoMatch is SelectPlatform's error when no entry fits.
var ErrNoMatch = errors.New("no matching manifest")

// SelectPlatform picks, from a multi-arch index (an OCI index or Docker's
// manifest list), the manifest to pull for the platform want: the same OS
// and architecture, and a variant that runs there. arm64 has one variant
// (v8, which an entry may leave out); an arm/vN machine runs v5 up to vN
// and prefers the highest; others need the same variant. Entries without a
// platform, or with unknown/unknown (the attestations that buildx stores
// beside the images), never match.
func SelectPlatform(idx imagespec.Index, want imagespec.Platform) (imagespec.Descriptor, error) {
	// LAB 06.3 BEGIN: the entry of idx.Manifests whose platform fits want best
	if want.OS == "" {
		want.OS = "linux"
	}
	w := Normalize(want)
	best, bestScore := -1, -1
	for i, d := range idx.Manifests {
		if d.Platform == nil {
			continue
		}
		p := Normalize(*d.Platform)
		if p.OS != w.OS || p.Architecture != w.Architecture {
			continue
		}
		score := 0
		switch {
		case p.Variant == w.Variant:
			score = 100 // the exact variant beats an older one
		case w.Architecture == "arm" && p.Variant != "" && p.Variant < w.Variant && len(p.Variant) == len(w.Variant):
			score = int(p.Variant[len(p.Variant)-1] - '0') // v5 < v6 < v7: an arm/v7 machine runs all three
		default:
			continue
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return imagespec.Descriptor{}, fmt.Errorf("%w for %s in the manifest list entries", ErrNoMatch, FormatPlatform(want))
	}
	return idx.Manifests[best], nil
	// LAB 06.3 END
	// LAB 06.3 STUB: lab.WarnOnce("06.3") // the first entry, whatever its platform
	// LAB 06.3 STUB: if len(idx.Manifests) == 0 {
	// LAB 06.3 STUB: return imagespec.Descriptor{}, fmt.Errorf("%w for %s in the manifest list entries", ErrNoMatch, FormatPlatform(want))
	// LAB 06.3 STUB: }
	// LAB 06.3 STUB: return idx.Manifests[0], nil
}
