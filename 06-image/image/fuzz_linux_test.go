package image

import (
	"bytes"
	"io"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/internal/testkit"
)

// FuzzLoad: whatever the archive, Load never panics, never writes outside
// its stores, and either loads images or leaves the stores empty (nothing
// half-stored: no layer, blob, record or image of a failed load).
func FuzzLoad(f *testing.F) {
	testkit.RequireRoot(f)
	{
		s, _, _ := newStores(f)
		twoImages(f, s)
		var buf bytes.Buffer
		require.NoError(f, Save(s, &buf, []string{"base"}))
		f.Add(buf.Bytes())
		f.Add(gz(f, buf.Bytes()))
		f.Add(without(f, buf.Bytes(), "index.json"))
	}
	legacy, _, _, _ := legacyArchive(f)
	f.Add(legacy)
	f.Add(ociLayout(f, false))
	f.Add(makeTar(f, tarFile{name: "manifest.json", body: []byte(`[{"Config":"c","Layers":["../../x"]}]`)}, tarFile{name: "c", link: "/etc/passwd"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, layers, root := newStores(t)
		_, err := Load(s, bytes.NewReader(data), io.Discard)
		ents, rerr := os.ReadDir(root)
		require.NoError(t, rerr)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		assert.Equal(t, []string{"images", "storage"}, names, "nothing written beside the stores")
		tmp, rerr := os.ReadDir(s.Root + "/tmp")
		require.NoError(t, rerr)
		assert.Empty(t, tmp, "no spool or half blob left")
		if err != nil {
			storeIsEmpty(t, s, layers)
			return
		}
		list, lerr := s.List()
		require.NoError(t, lerr)
		for _, im := range list {
			ls, err := s.ImageLayers(im.ID.String())
			require.NoError(t, err)
			for _, l := range ls {
				assert.True(t, layers.Has(l.DiffID))
				assert.True(t, s.Blobs().Has(l.Digest))
			}
			assert.False(t, slices.Contains(im.RepoTags, ""))
		}
	})
}
