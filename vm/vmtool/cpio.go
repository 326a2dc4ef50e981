package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// The initramfs is a cpio archive in the "newc" format, the one the kernel
// unpacks into its first root filesystem (see the kernel's
// Documentation/driver-api/early-userspace/buffer-format.rst). Every entry
// is a 110-byte ASCII header of hexadecimal fields, the NUL-terminated name
// and the data, each padded to 4 bytes. We write it ourselves rather than
// with cpio(1) for two reasons: every file must belong to root inside the
// VM whoever builds the archive, and the archive must hold /dev/console,
// a device node that only root may create on the host. Without it the
// kernel has no console to give the init, and the test output is lost.

// cpioEntry is one file of the archive.
type cpioEntry struct {
	name  string // relative, no leading slash: "bin/busybox"
	mode  uint32 // file type and permission bits, as in stat(2)
	major uint32 // of a device node
	minor uint32
	data  []byte // contents of a regular file, or a symlink's target
	path  string // a regular file's contents are read from here when data is nil
	size  int64
}

// Type bits of a cpio mode, the same as in stat(2).
const (
	cpioDir     = 0o040000
	cpioRegular = 0o100000
	cpioSymlink = 0o120000
	cpioChar    = 0o020000
)

// writeInitramfs writes dir as a newc archive to w: every entry owned by
// root, hard links stored as separate files, and the device nodes a kernel
// console needs added when dir lacks them.
func writeInitramfs(w io.Writer, dir string) error {
	entries, err := collect(dir)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.name] = true
	}
	for _, e := range []cpioEntry{
		{name: "dev", mode: cpioDir | 0o755},
		{name: "dev/console", mode: cpioChar | 0o600, major: 5, minor: 1},
		{name: "dev/null", mode: cpioChar | 0o666, major: 1, minor: 3},
	} {
		if !have[e.name] {
			entries = append(entries, e)
		}
	}
	// Parents before children: sorting by name puts "a" before "a/b".
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &cpioWriter{w: bw}
	for i, e := range entries {
		if err := cw.write(uint32(i+1), e); err != nil {
			return fmt.Errorf("initramfs: %s: %w", e.name, err)
		}
	}
	if err := cw.write(0, cpioEntry{name: "TRAILER!!!"}); err != nil {
		return err
	}
	return bw.Flush()
}

// collect walks dir and describes every file in it.
func collect(dir string) ([]cpioEntry, error) {
	var out []cpioEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := cpioEntry{name: filepath.ToSlash(rel), mode: uint32(info.Mode().Perm())}
		if info.Mode()&fs.ModeSetuid != 0 {
			e.mode |= 0o4000
		}
		if info.Mode()&fs.ModeSetgid != 0 {
			e.mode |= 0o2000
		}
		if info.Mode()&fs.ModeSticky != 0 {
			e.mode |= 0o1000
		}
		switch {
		case info.IsDir():
			e.mode |= cpioDir
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e.mode |= cpioSymlink
			e.data = []byte(target)
			e.size = int64(len(target))
		case info.Mode().IsRegular():
			e.mode |= cpioRegular
			e.path = p
			e.size = info.Size()
		case info.Mode()&fs.ModeCharDevice != 0:
			st, ok := info.Sys().(*syscall.Stat_t)
			if !ok {
				return fmt.Errorf("%s: no device number", p)
			}
			e.mode |= cpioChar
			e.major, e.minor = devMajor(st.Rdev), devMinor(st.Rdev)
		default:
			return fmt.Errorf("%s: cannot archive a %v", p, info.Mode().Type())
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

func devMajor(dev uint64) uint32 { return uint32((dev>>8)&0xfff) | uint32((dev>>32)&^0xfff) }
func devMinor(dev uint64) uint32 { return uint32(dev&0xff) | uint32((dev>>12)&^0xff) }

type cpioWriter struct {
	w   *bufio.Writer
	off int64
}

func (c *cpioWriter) write(ino uint32, e cpioEntry) error {
	if strings.HasPrefix(e.name, "/") || e.name == "" {
		return fmt.Errorf("bad name %q", e.name)
	}
	nlink := uint32(1)
	if e.mode&0o170000 == cpioDir {
		nlink = 2
	}
	// Fields: magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize, check. uid and gid are 0:
	// everything belongs to root in the VM.
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, e.mode, 0, 0, nlink, 0, e.size, 0, 0, e.major, e.minor, len(e.name)+1, 0)
	if err := c.put([]byte(hdr + e.name + "\x00")); err != nil {
		return err
	}
	if err := c.pad(); err != nil {
		return err
	}
	switch {
	case e.data != nil:
		if err := c.put(e.data); err != nil {
			return err
		}
	case e.path != "":
		f, err := os.Open(e.path)
		if err != nil {
			return err
		}
		n, err := io.Copy(c.w, f)
		f.Close()
		if err != nil {
			return err
		}
		if n != e.size {
			return fmt.Errorf("size changed while archiving: %d, now %d", e.size, n)
		}
		c.off += n
	}
	return c.pad()
}

func (c *cpioWriter) put(b []byte) error {
	n, err := c.w.Write(b)
	c.off += int64(n)
	return err
}

func (c *cpioWriter) pad() error {
	if r := c.off % 4; r != 0 {
		return c.put(make([]byte, 4-r))
	}
	return nil
}
