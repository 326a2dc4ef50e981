// Package busybox builds a minimal root filesystem from Debian's
// busybox-static: one static binary that is a shell and a hundred tools.
// The tests use it as their container image, and lesson 03's demo as the
// root it shows.
package busybox

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Candidates are where Debian's busybox-static may be installed.
var Candidates = []string{"/bin/busybox", "/usr/bin/busybox"}

// Build fills dir with a root filesystem: /bin/busybox, a link for every
// applet, /etc/passwd and /etc/group with root and nobody, /etc/hostname,
// and the empty directories a container mounts on.
func Build(dir string) error {
	bb, err := Find()
	if err != nil {
		return err
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "tmp", "proc", "sys", "dev", "var", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := copyFile(bb, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("list busybox applets: %w", err)
	}
	for _, applet := range strings.Fields(string(bytes.TrimSpace(out))) {
		link := filepath.Join(dir, applet)
		if applet == "bin/busybox" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("/bin/busybox", link); err != nil && !os.IsExist(err) {
			return fmt.Errorf("link applet %s: %w", applet, err)
		}
	}
	files := map[string]string{
		"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":    "root:x:0:\nnogroup:x:65534:\n",
		"etc/hostname": "minibox\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Find returns the path of a statically linked busybox, or an error
// that says how to install one.
func Find() (string, error) {
	for _, p := range Candidates {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		static, err := isStatic(p)
		if err != nil {
			return "", err
		}
		if static {
			return p, nil
		}
		return "", fmt.Errorf("%s is dynamically linked: install busybox-static (sudo apt-get install busybox-static)", p)
	}
	return "", fmt.Errorf("no busybox found: install busybox-static (sudo apt-get install busybox-static)")
}

// isStatic reports whether an ELF file has no program interpreter, that is,
// runs without a dynamic loader: it must, inside a root with no /lib.
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("read %s as ELF: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
