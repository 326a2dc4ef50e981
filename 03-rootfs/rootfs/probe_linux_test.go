package rootfs_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// probeArg makes the test binary the breakout probe: `/probe rootfs-probe
// NAME ARGS...` inside a container. Each probe tries one thing a contained
// process must not be able to do and prints one line: "ok", or what stopped
// it ("mount: operation not permitted").
const probeArg = "rootfs-probe"

// probeSecret is what the host's marker file holds.
const probeSecret = "the host's marker"

func runProbe(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "probe: name missing")
		return 2
	}
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	report := func(what string, err error) int {
		if err != nil {
			var errno unix.Errno
			if errors.As(err, &errno) {
				fmt.Printf("%s: %s\n", what, errno.Error())
			} else {
				fmt.Printf("%s: %v\n", what, err)
			}
			return 0
		}
		fmt.Println("ok")
		return 0
	}
	switch args[0] {
	case "chroot-escape": // the classic: walk out of a chroot through a kept directory
		fmt.Println(chrootEscape(arg(1)))
		return 0
	case "mount-tmpfs":
		return report("mount", unix.Mount("tmpfs", arg(1), "tmpfs", 0, "size=1m"))
	case "lo-down":
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return report("find lo", err)
		}
		return report("lo down", netlink.LinkSetDown(lo))
	case "write":
		err := os.WriteFile(arg(1), []byte(arg(2)), 0)
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return report("write", err)
	case "read":
		f, err := os.Open(arg(1))
		if err != nil {
			return report("open", err)
		}
		defer f.Close()
		n, err := io.ReadFull(f, make([]byte, 64))
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return report("read", err)
		}
		if n == 0 {
			fmt.Println("read 0 bytes")
		} else {
			fmt.Println("read some bytes")
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "probe: unknown", args[0])
	return 2
}

// chrootEscape tries to reach marker, a host path, from inside: keep a
// descriptor of the current directory, chroot into a subdirectory (the
// descriptor now lies outside our root), fchdir to it, climb with ".." far
// more often than any tree is deep and chroot to where we ended up. Under a
// plain chroot that is the host's "/"; after pivot_root and a detached old
// root it is the container's own "/".
func chrootEscape(marker string) string {
	if err := os.MkdirAll("/tmp/jail", 0o755); err != nil {
		return "mkdir: " + err.Error()
	}
	fd, err := unix.Open(".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return "open: " + err.Error()
	}
	if err := unix.Chroot("/tmp/jail"); err != nil {
		return "chroot: " + err.Error()
	}
	if err := unix.Fchdir(fd); err != nil {
		return "fchdir: " + err.Error()
	}
	for i := 0; i < 256; i++ {
		if err := unix.Chdir(".."); err != nil {
			return "chdir: " + err.Error()
		}
	}
	if err := unix.Chroot("."); err != nil {
		return "chroot: " + err.Error()
	}
	b, err := os.ReadFile(marker)
	if err == nil && strings.Contains(string(b), probeSecret) {
		return "escaped"
	}
	return "contained"
}
