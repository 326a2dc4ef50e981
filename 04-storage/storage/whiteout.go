package storage

import (
	"fmt"
	"path"
	"strings"
)

// The names that mark deletions in a layer tar (the OCI image-spec's
// "Representing Changes", inherited from AUFS). A tar cannot say "this file
// is gone", so a layer that deletes /etc/motd carries an empty file
// /etc/.wh.motd, and a directory whose lower contents are all hidden carries
// DIR/.wh..wh..opq.
const (
	WhiteoutPrefix = ".wh."
	WhiteoutOpaque = ".wh..wh..opq"
	// whiteoutMeta starts AUFS's own bookkeeping names (.wh..wh.plnk, ...),
	// which carry nothing for us: skipped, as Docker does.
	whiteoutMeta = ".wh..wh."
)

// OverlayOpaqueXattr is how overlayfs marks an opaque directory in an upper
// or lower layer: with it set to "y", nothing of the same directory in the
// layers below shows through. overlayfs marks a deleted file with a
// character device 0/0 of the same name (see overlayfs.rst, "whiteouts and
// opaque directories").
const OverlayOpaqueXattr = "trusted.overlay.opaque"

// overlayXattrPrefix names overlayfs's private attributes of an upper layer
// (opaque, origin, impure, redirect...): never copied into a layer tar.
const overlayXattrPrefix = "trusted.overlay."

// cleanName turns a tar entry's name into a clean path relative to the
// layer's directory, or refuses it: absolute names and names that climb out
// with ".." never reach the file system.
func cleanName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("entry with an empty name")
	}
	if path.IsAbs(name) {
		return "", fmt.Errorf("entry %q: absolute name", name)
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("entry %q: climbs out of the layer with ..", name)
	}
	return c, nil
}

// WhiteoutTarget tells what a tar entry's base name deletes: for ".wh.NAME"
// it returns NAME and false, for the opaque marker "" and true. ok is false
// when base is no whiteout at all.
func WhiteoutTarget(base string) (name string, opaque, ok bool) {
	switch {
	case base == WhiteoutOpaque:
		return "", true, true
	case strings.HasPrefix(base, whiteoutMeta):
		return "", false, false
	case strings.HasPrefix(base, WhiteoutPrefix):
		return strings.TrimPrefix(base, WhiteoutPrefix), false, true
	}
	return "", false, false
}

// isAUFSMeta reports names of AUFS's bookkeeping that extraction skips.
func isAUFSMeta(base string) bool {
	return base != WhiteoutOpaque && strings.HasPrefix(base, whiteoutMeta)
}

// WhiteoutName is the tar name that deletes rel (a clean relative path).
func WhiteoutName(rel string) string {
	dir, base := path.Split(rel)
	return dir + WhiteoutPrefix + base
}
