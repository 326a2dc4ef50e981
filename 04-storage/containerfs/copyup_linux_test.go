package containerfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
	"minibox/internal/testkit"
)

// An image whose /data is a symbolic link to /etc: the copy into an empty
// volume mounted on /data follows it inside the image, so the volume gets
// the image's /etc. Joined as a string and opened from the host, the link
// would lead to the host's /etc, and the host's files into the volume.
func TestVolumeCopyStaysInTheImage(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			testkit.Root(t)
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			mtime := time.Unix(1700000000, 0)
			for _, h := range []*tar.Header{
				{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755, ModTime: mtime},
				{Typeflag: tar.TypeReg, Name: "etc/only-in-the-image", Mode: 0o644, Size: 3, ModTime: mtime},
				{Typeflag: tar.TypeSymlink, Name: "data", Linkname: "/etc", ModTime: mtime},
			} {
				require.NoError(t, tw.WriteHeader(h))
				if h.Size > 0 {
					_, err := tw.Write([]byte("img"))
					require.NoError(t, err)
				}
			}
			require.NoError(t, tw.Close())
			s, err := New(t.TempDir())
			require.NoError(t, err)
			img, err := s.Images.Import(bytes.NewReader(buf.Bytes()), "linked:1", nil, "")
			require.NoError(t, err)

			c := newContainer(driver, engine.HostConfig{Binds: []string{"linked:/data"}}, img)
			create(t, s, c, img)
			ents, err := os.ReadDir(s.Volumes.Path("linked"))
			require.NoError(t, err)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if len(names) > 5 { // the host's /etc: show a few names, not all
				names = append(names[:5], fmt.Sprintf("... (%d entries in all)", len(names)))
			}
			assert.Equal(t, []string{"only-in-the-image"}, names, "the volume holds the image's /etc, and nothing of the host's")
		})
	}
}
