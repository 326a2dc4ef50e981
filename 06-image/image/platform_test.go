package image

import (
	"testing"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func entry(name, os, arch, variant string) imagespec.Descriptor {
	d := imagespec.Descriptor{MediaType: imagespec.MediaTypeImageManifest, Digest: digest.FromString(name), Size: 1}
	if os != "" {
		d.Platform = &imagespec.Platform{OS: os, Architecture: arch, Variant: variant}
	}
	return d
}

func TestSelectPlatform(t *testing.T) {
	attest := entry("attestation", "unknown", "unknown", "")
	noPlatform := entry("no platform", "", "", "")
	amd := entry("amd64", "linux", "amd64", "")
	arm64v8 := entry("arm64/v8", "linux", "arm64", "v8")
	arm64 := entry("arm64", "linux", "arm64", "")
	armv6 := entry("arm/v6", "linux", "arm", "v6")
	armv7 := entry("arm/v7", "linux", "arm", "v7")
	win := entry("windows", "windows", "amd64", "")
	s390 := entry("s390x", "linux", "s390x", "")
	tests := []struct {
		name    string
		list    []imagespec.Descriptor
		want    imagespec.Platform
		pick    imagespec.Descriptor
		wantErr string
	}{
		{name: "amd64 among others", list: []imagespec.Descriptor{attest, arm64v8, win, amd, s390}, want: imagespec.Platform{OS: "linux", Architecture: "amd64"}, pick: amd},
		{name: "x86_64 is amd64", list: []imagespec.Descriptor{arm64v8, amd}, want: imagespec.Platform{OS: "linux", Architecture: "x86_64"}, pick: amd},
		{name: "arm64 wants v8, the entry says v8", list: []imagespec.Descriptor{amd, arm64v8}, want: imagespec.Platform{OS: "linux", Architecture: "arm64"}, pick: arm64v8},
		{name: "arm64/v8 wants v8, the entry says none", list: []imagespec.Descriptor{amd, noPlatform, arm64}, want: imagespec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, pick: arm64},
		{name: "aarch64 is arm64", list: []imagespec.Descriptor{amd, arm64}, want: imagespec.Platform{OS: "linux", Architecture: "aarch64"}, pick: arm64},
		{name: "arm/v7 prefers v7 over v6", list: []imagespec.Descriptor{amd, armv6, armv7}, want: imagespec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, pick: armv7},
		{name: "arm/v7 runs v6", list: []imagespec.Descriptor{amd, armv6}, want: imagespec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, pick: armv6},
		{name: "arm/v6 does not run v7", list: []imagespec.Descriptor{armv7, amd}, want: imagespec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, wantErr: "no matching manifest for linux/arm/v6 in the manifest list entries"},
		{name: "windows is another OS", list: []imagespec.Descriptor{win, arm64v8}, want: imagespec.Platform{OS: "linux", Architecture: "amd64"}, wantErr: "no matching manifest for linux/amd64 in the manifest list entries"},
		{name: "none matches", list: []imagespec.Descriptor{arm64v8, s390, attest}, want: imagespec.Platform{OS: "linux", Architecture: "amd64"}, wantErr: "no matching manifest for linux/amd64 in the manifest list entries"},
		{name: "empty list", want: imagespec.Platform{OS: "linux", Architecture: "amd64"}, wantErr: "no matching manifest for linux/amd64 in the manifest list entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SelectPlatform(imagespec.Index{Manifests: tt.list}, tt.want)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				assert.ErrorIs(t, err, ErrNoMatch)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.pick.Digest, got.Digest, "picked %v", got.Platform)
		})
	}
}

func TestNormalize(t *testing.T) {
	for _, tt := range []struct {
		in   imagespec.Platform
		want string
	}{
		{imagespec.Platform{OS: "Linux", Architecture: "x86_64"}, "linux/amd64"},
		{imagespec.Platform{OS: "linux", Architecture: "amd64", Variant: "v1"}, "linux/amd64"},
		{imagespec.Platform{OS: "linux", Architecture: "aarch64"}, "linux/arm64/v8"},
		{imagespec.Platform{OS: "linux", Architecture: "armhf"}, "linux/arm/v7"},
		{imagespec.Platform{OS: "linux", Architecture: "arm", Variant: "6"}, "linux/arm/v6"},
		{imagespec.Platform{OS: "linux", Architecture: "arm"}, "linux/arm/v7"},
		{imagespec.Platform{OS: "linux", Architecture: "i386"}, "linux/386"},
	} {
		assert.Equal(t, tt.want, FormatPlatform(Normalize(tt.in)), "%+v", tt.in)
	}
}
