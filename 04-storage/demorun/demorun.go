// Package demorun is what the `demo` commands of lesson 04 and later
// lessons share: a minibox installation of the demo's own (a data root and an exec
// root under one temporary directory, removed at the end), each command
// printed as a student would type it with its output indented below, and a
// busybox image to import.
package demorun

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"minibox/04-storage/storage"
	"minibox/internal/busybox"
)

// Demo is one run of a demo.
type Demo struct {
	Out  io.Writer
	Self string // this program
	Dir  string // the data root is Dir/data, the exec root Dir/run
}

// New makes the demo's temporary directory.
func New(out io.Writer) (*Demo, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program: %w", err)
	}
	dir, err := os.MkdirTemp("", "minibox-demo-")
	if err != nil {
		return nil, err
	}
	return &Demo{Out: out, Self: self, Dir: dir}, nil
}

// Intro says where the demo's minibox lives.
func (d *Demo) Intro() {
	fmt.Fprintf(d.Out, "A minibox of its own for the demo: every command below is\n"+
		"  %s --data-root %s/data --exec-root %s/run ...\n"+
		"(all of it is removed at the end).\n\n", d.Self, d.Dir, d.Dir)
}

func (d *Demo) roots() []string {
	return []string{"--data-root", filepath.Join(d.Dir, "data"), "--exec-root", filepath.Join(d.Dir, "run")}
}

// Minibox runs this program with the demo's roots, prints the command (as
// typed, without the roots) and its output, indented, and returns the
// output.
func (d *Demo) Minibox(args ...string) (string, error) {
	fmt.Fprintf(d.Out, "  $ minibox %s\n", ShellJoin(args))
	cmd := exec.Command(d.Self, append(d.roots(), args...)...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	for _, l := range strings.SplitAfter(buf.String(), "\n") {
		if l != "" {
			fmt.Fprint(d.Out, "  "+l)
		}
	}
	if err != nil {
		return buf.String(), fmt.Errorf("minibox %s: %w", strings.Join(args, " "), err)
	}
	return buf.String(), nil
}

// Steps runs commands with Minibox until one fails.
func (d *Demo) Steps(steps ...[]string) error {
	for _, s := range steps {
		if _, err := d.Minibox(s...); err != nil {
			return err
		}
	}
	return nil
}

// BusyboxTar builds a busybox root filesystem from the host's
// busybox-static and returns the path of its tar, ready for `import`.
func (d *Demo) BusyboxTar() (string, error) {
	rootfs := filepath.Join(d.Dir, "busybox")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return "", err
	}
	if err := busybox.Build(rootfs); err != nil {
		return "", err
	}
	tarPath := filepath.Join(d.Dir, "busybox.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		return "", err
	}
	_, err = storage.WriteTar(f, rootfs)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("tar the busybox root: %w", err)
	}
	return tarPath, nil
}

// Cleanup removes whatever the demo made, a failed run's containers too:
// every container with its anonymous volumes, then what the more commands
// remove (a network, a volume), then the roots.
func (d *Demo) Cleanup(more ...[]string) error {
	if out, err := exec.Command(d.Self, append(d.roots(), "ps", "-aq", "--no-trunc")...).Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			exec.Command(d.Self, append(d.roots(), "rm", "-f", "-v", id)...).Run()
		}
	}
	for _, m := range more {
		exec.Command(d.Self, append(d.roots(), m...)...).Run()
	}
	if err := os.RemoveAll(d.Dir); err != nil {
		return fmt.Errorf("remove the demo's roots: %w", err)
	}
	return nil
}

// ShellJoin quotes what a shell would need quoted.
func ShellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$;&|<>(){}*?!\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
