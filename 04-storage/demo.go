package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/demorun"
	"minibox/04-storage/storage"
)

// newDemoCmd shows lesson 04 in one go, in a minibox installation of its
// own (a temporary data root and exec root, removed at the end): a busybox
// image imported from a tar, a named volume written by a container, that
// container's changes as `diff` lists them, as overlayfs keeps them in the
// upper directory (whiteouts, an opaque directory) and as a layer tar spells
// them, and the volume still there after the container is removed.
func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Show a named volume surviving its container, and a container's changes: diff, the upper directory, the layer tar",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.RequireRoot(); err != nil {
				return err
			}
			r, err := demorun.New(cmd.OutOrStdout())
			if err != nil {
				return cli.Fail(err)
			}
			d := &demo{r}
			err = d.run()
			if cerr := r.Cleanup(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				return cli.Fail(err)
			}
			return nil
		},
	}
}

// demo runs this program as a student would type it, against its own roots.
type demo struct{ *demorun.Demo }

// writerCmd is what the demo's container does: a file in the volume, a new
// file in the image's /root, one deleted file (a whiteout) and a directory
// deleted and made again (an opaque directory: the image's /etc is hidden).
const writerCmd = "echo hello > /notes/greeting; echo buy milk > /root/todo; rm /bin/vi; " +
	"rm -r /etc; mkdir /etc; echo demo > /etc/hostname"

func (d *demo) run() error {
	d.Intro()
	tarPath, err := d.BusyboxTar()
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "An image from a tar of a busybox root filesystem (the host's busybox-static), as `docker import` makes one:\n")
	if err := d.Steps(
		[]string{"import", tarPath, "busybox"},
		[]string{"volume", "create", "notes"},
		[]string{"run", "--name", "writer", "-v", "notes:/notes", "busybox", "sh", "-c", writerCmd},
		[]string{"diff", "writer"},
	); err != nil {
		return err
	}
	upper, err := d.Minibox("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "writer")
	if err != nil {
		return err
	}
	upper = strings.TrimSpace(upper)
	fmt.Fprintf(d.Out, "\nThe same changes as overlayfs keeps them in the container's upper directory:\n")
	if err := d.listUpper(upper); err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "\nand as a layer tar spells them (what `commit` would store; the OCI image-spec's names):\n")
	if err := d.listTar(upper); err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "\nThe container goes; its upper directory with it, the named volume stays:\n")
	if err := d.Steps(
		[]string{"rm", "writer"},
		[]string{"volume", "ls"},
		[]string{"run", "--rm", "-v", "notes:/notes", "busybox", "cat", "/notes/greeting"},
		[]string{"volume", "rm", "notes"},
	); err != nil {
		return err
	}
	fmt.Fprintln(d.Out, "\nNext: 04-storage/README.md walks through copy-up, shared layers, the three kinds of mounts")
	fmt.Fprintln(d.Out, "and the engine (ps -a, logs, rm, system prune) with `sudo bin/04-storage ...` on /var/lib/minibox.")
	return nil
}

// listUpper prints every entry of the upper directory with what overlayfs
// means by it.
func (d *demo) listUpper(upper string) error {
	return filepath.WalkDir(upper, func(full string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, full)
		if err != nil || rel == "." {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(full, &st); err != nil {
			return fmt.Errorf("lstat %s: %w", full, err)
		}
		var what string
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			rel += "/"
			what = "directory"
			buf := make([]byte, 8)
			n, err := unix.Lgetxattr(full, storage.OverlayOpaqueXattr, buf)
			if err == nil && string(buf[:n]) == "y" {
				what += ", " + storage.OverlayOpaqueXattr + "=y: the image's " + filepath.Base(full) + "/ is hidden"
			} else if err != nil && !errors.Is(err, unix.ENODATA) {
				return fmt.Errorf("getxattr %s: %w", full, err)
			}
		case unix.S_IFCHR:
			what = fmt.Sprintf("character device %d/%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
			if st.Rdev == 0 {
				what += ": a whiteout, " + filepath.Base(full) + " is deleted"
			}
		case unix.S_IFREG:
			what = fmt.Sprintf("file, %d bytes", st.Size)
		case unix.S_IFLNK:
			target, _ := os.Readlink(full)
			what = "symbolic link to " + target
		default:
			what = fmt.Sprintf("mode %o", st.Mode)
		}
		fmt.Fprintf(d.Out, "  %-14s %s\n", rel, what)
		return nil
	})
}

// listTar writes the upper directory as a layer tar and prints its names.
func (d *demo) listTar(upper string) error {
	var buf bytes.Buffer
	if _, err := storage.WriteTar(&buf, upper); err != nil {
		return fmt.Errorf("tar the upper directory: %w", err)
	}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the layer tar: %w", err)
		}
		note := ""
		switch base := filepath.Base(h.Name); {
		case base == storage.WhiteoutOpaque:
			note = "an empty file: hide everything below in " + filepath.Dir(h.Name) + "/"
		case strings.HasPrefix(base, storage.WhiteoutPrefix):
			note = "an empty file: delete " + strings.TrimPrefix(base, storage.WhiteoutPrefix)
		}
		fmt.Fprintln(d.Out, strings.TrimRight(fmt.Sprintf("  %-18s %s", h.Name, note), " "))
	}
}
