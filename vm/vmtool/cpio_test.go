package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// newcEntry is one entry read back from a newc archive.
type newcEntry struct {
	mode, uid, gid, nlink, rdevMajor, rdevMinor uint64
	data                                        string
}

// readNewc parses a newc archive the way the kernel's initramfs unpacker
// does, failing the test on anything malformed.
func readNewc(t *testing.T, b []byte) (map[string]newcEntry, []string) {
	t.Helper()
	out := map[string]newcEntry{}
	var order []string
	off := 0
	align := func() { off = (off + 3) &^ 3 }
	for {
		if off+110 > len(b) {
			t.Fatalf("truncated header at %d", off)
		}
		h := string(b[off : off+110])
		if h[:6] != "070701" {
			t.Fatalf("bad magic %q at %d", h[:6], off)
		}
		field := func(i int) uint64 {
			v, err := strconv.ParseUint(h[6+8*i:14+8*i], 16, 32)
			if err != nil {
				t.Fatalf("field %d of %q: %v", i, h, err)
			}
			return v
		}
		namesize := int(field(11))
		size := int(field(6))
		off += 110
		name := string(b[off : off+namesize-1])
		if b[off+namesize-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", name)
		}
		off += namesize
		align()
		if name == "TRAILER!!!" {
			return out, order
		}
		e := newcEntry{mode: field(1), uid: field(2), gid: field(3), nlink: field(4),
			rdevMajor: field(9), rdevMinor: field(10), data: string(b[off : off+size])}
		off += size
		align()
		out[name] = e
		order = append(order, name)
	}
}

func TestWriteInitramfs(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "tmp"), 0o755))
	must(os.Chmod(filepath.Join(dir, "tmp"), 0o777|os.ModeSticky))
	must(os.WriteFile(filepath.Join(dir, "bin/busybox"), []byte("\x7fELF-not-really"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "init"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Symlink("/bin/busybox", filepath.Join(dir, "bin/sh")))
	// Sizes that need padding after the name and after the data.
	must(os.WriteFile(filepath.Join(dir, "bin/odd"), []byte("abcde"), 0o644))

	var buf bytes.Buffer
	must(writeInitramfs(&buf, dir))
	if buf.Len()%4 != 0 {
		t.Errorf("archive length %d is not a multiple of 4", buf.Len())
	}
	got, order := readNewc(t, buf.Bytes())

	want := map[string]struct {
		mode uint64
		data string
	}{
		"bin":         {0o040755, ""},
		"bin/busybox": {0o100755, "\x7fELF-not-really"},
		"bin/sh":      {0o120777, "/bin/busybox"},
		"bin/odd":     {0o100644, "abcde"},
		"init":        {0o100755, "#!/bin/sh\n"},
		"tmp":         {0o041777, ""},
		"dev":         {0o040755, ""},
		"dev/console": {0o020600, ""},
		"dev/null":    {0o020666, ""},
	}
	for name, w := range want {
		e, ok := got[name]
		if !ok {
			t.Errorf("%s missing from the archive", name)
			continue
		}
		if e.mode != w.mode {
			t.Errorf("%s: mode %o, want %o", name, e.mode, w.mode)
		}
		if e.data != w.data {
			t.Errorf("%s: data %q, want %q", name, e.data, w.data)
		}
		if e.uid != 0 || e.gid != 0 {
			t.Errorf("%s: owned by %d:%d, want root", name, e.uid, e.gid)
		}
	}
	if len(got) != len(want) {
		t.Errorf("archive has %d entries, want %d: %v", len(got), len(want), order)
	}
	if c := got["dev/console"]; c.rdevMajor != 5 || c.rdevMinor != 1 {
		t.Errorf("dev/console is %d:%d, want 5:1", c.rdevMajor, c.rdevMinor)
	}
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	for _, n := range order {
		if d := filepath.Dir(n); d != "." && pos[d] > pos[n] {
			t.Errorf("%s comes before its directory %s", n, d)
		}
	}
}

func TestWriteInitramfsKeepsAnExistingDev(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "dev"), 0o700); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeInitramfs(&buf, dir); err != nil {
		t.Fatal(err)
	}
	got, order := readNewc(t, buf.Bytes())
	n := 0
	for _, name := range order {
		if name == "dev" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("dev appears %d times", n)
	}
	if got["dev"].mode != 0o040700 {
		t.Errorf("dev: mode %o, want the directory's own 40700", got["dev"].mode)
	}
}

func TestWriteInitramfsRefusesFIFOs(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Skip("cannot make a FIFO here:", err)
	}
	if err := writeInitramfs(io.Discard, dir); err == nil {
		t.Error("a FIFO was archived; want an error")
	}
}
