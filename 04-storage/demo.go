package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/storage"
	"minibox/internal/busybox"
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
			self, err := os.Executable()
			if err != nil {
				return cli.Fail(fmt.Errorf("find this program: %w", err))
			}
			dir, err := os.MkdirTemp("", "minibox-demo-")
			if err != nil {
				return cli.Fail(err)
			}
			d := &demo{out: cmd.OutOrStdout(), self: self, dir: dir}
			err = d.run()
			if cerr := d.cleanup(); err == nil && cerr != nil {
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
type demo struct {
	out  io.Writer
	self string
	dir  string // the data root is dir/data, the exec root dir/run
}

// writerCmd is what the demo's container does: a file in the volume, a new
// file in the image's /root, one deleted file (a whiteout) and a directory
// deleted and made again (an opaque directory: the image's /etc is hidden).
const writerCmd = "echo hello > /notes/greeting; echo buy milk > /root/todo; rm /bin/vi; " +
	"rm -r /etc; mkdir /etc; echo demo > /etc/hostname"

func (d *demo) run() error {
	fmt.Fprintf(d.out, "A minibox of its own for the demo: every command below is\n"+
		"  %s --data-root %s/data --exec-root %s/run ...\n"+
		"(all of it is removed at the end).\n\n", d.self, d.dir, d.dir)

	rootfs := filepath.Join(d.dir, "busybox")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return err
	}
	if err := busybox.Build(rootfs); err != nil {
		return err
	}
	tarPath := filepath.Join(d.dir, "busybox.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		return err
	}
	_, err = storage.WriteTar(f, rootfs)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tar the busybox root: %w", err)
	}
	fmt.Fprintf(d.out, "An image from a tar of a busybox root filesystem (the host's busybox-static), as `docker import` makes one:\n")
	steps := [][]string{
		{"import", tarPath, "busybox"},
		{"volume", "create", "notes"},
		{"run", "--name", "writer", "-v", "notes:/notes", "busybox", "sh", "-c", writerCmd},
		{"diff", "writer"},
	}
	for _, s := range steps {
		if _, err := d.minibox(s...); err != nil {
			return err
		}
	}
	upper, err := d.minibox("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "writer")
	if err != nil {
		return err
	}
	upper = strings.TrimSpace(upper)
	fmt.Fprintf(d.out, "\nThe same changes as overlayfs keeps them in the container's upper directory:\n")
	if err := d.listUpper(upper); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\nand as a layer tar spells them (what `commit` would store; the OCI image-spec's names):\n")
	if err := d.listTar(upper); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\nThe container goes; its upper directory with it, the named volume stays:\n")
	for _, s := range [][]string{
		{"rm", "writer"},
		{"volume", "ls"},
		{"run", "--rm", "-v", "notes:/notes", "busybox", "cat", "/notes/greeting"},
		{"volume", "rm", "notes"},
	} {
		if _, err := d.minibox(s...); err != nil {
			return err
		}
	}
	fmt.Fprintln(d.out, "\nNext: 04-storage/README.md walks through copy-up, shared layers, the three kinds of mounts")
	fmt.Fprintln(d.out, "and the engine (ps -a, logs, rm, system prune) with `sudo bin/04-storage ...` on /var/lib/minibox.")
	return nil
}

// minibox runs this program with the demo's roots, prints the command (as
// typed, without the roots) and its output, indented, and returns the
// output.
func (d *demo) minibox(args ...string) (string, error) {
	fmt.Fprintf(d.out, "  $ minibox %s\n", shellJoin(args))
	cmd := exec.Command(d.self, append([]string{"--data-root", filepath.Join(d.dir, "data"), "--exec-root", filepath.Join(d.dir, "run")}, args...)...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	for _, l := range strings.SplitAfter(buf.String(), "\n") {
		if l != "" {
			fmt.Fprint(d.out, "  "+l)
		}
	}
	if err != nil {
		return buf.String(), fmt.Errorf("minibox %s: %w", strings.Join(args, " "), err)
	}
	return buf.String(), nil
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
		fmt.Fprintf(d.out, "  %-14s %s\n", rel, what)
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
		fmt.Fprintln(d.out, strings.TrimRight(fmt.Sprintf("  %-18s %s", h.Name, note), " "))
	}
}

// cleanup removes whatever the demo made, a failed run's containers too.
func (d *demo) cleanup() error {
	roots := []string{"--data-root", filepath.Join(d.dir, "data"), "--exec-root", filepath.Join(d.dir, "run")}
	if out, err := exec.Command(d.self, append(roots, "ps", "-aq", "--no-trunc")...).Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			exec.Command(d.self, append(roots, "rm", "-f", "-v", id)...).Run()
		}
	}
	if err := os.RemoveAll(d.dir); err != nil {
		return fmt.Errorf("remove the demo's roots: %w", err)
	}
	return nil
}

// shellJoin quotes what a shell would need quoted.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$;&|<>(){}*?!\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
