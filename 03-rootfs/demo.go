package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/moby/sys/capability"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/cli"
	"minibox/01-namespaces/namespaces"
	"minibox/02-cgroups/cgroups"
	"minibox/03-rootfs/runflags"
	"minibox/internal/busybox"
)

// newDemoCmd asks the same questions on the host and in a busybox container
// and prints the answers side by side: what "/" holds, where it comes from,
// what /proc/timer_list gives, whether /proc/sys can be written, whether mount(2)
// is allowed, and which capabilities the process has.
func newDemoCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Show a container's own root filesystem, a masked path, a read-only path and a dropped capability",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.RequireRoot(); err != nil {
				return err
			}
			if dir == "" {
				tmp, err := os.MkdirTemp("", "minibox-demo-rootfs-")
				if err != nil {
					return cli.Fail(err)
				}
				defer os.RemoveAll(tmp)
				if err := busybox.Build(tmp); err != nil {
					return cli.Fail(err)
				}
				dir = tmp
			}
			return demo(cmd.OutOrStdout(), dir)
		},
	}
	cmd.Flags().StringVar(&dir, "rootfs", "", "root filesystem to use (default: a busybox one built for the demo from the host's busybox-static)")
	return cmd
}

// newMkrootfsCmd makes a busybox root filesystem for the examples of the
// chapter: `run --rootfs` needs one, and there is no image yet (lesson 06).
func newMkrootfsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "mkrootfs DIR",
		Short: "Make a busybox root filesystem in DIR from the host's busybox-static",
		Example: `  go run ./03-rootfs mkrootfs ./busybox-rootfs
  sudo go run ./03-rootfs run --rootfs ./busybox-rootfs -it -- sh`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.Mkdir(args[0], 0o755); err != nil {
				return cli.Fail(fmt.Errorf("%w (mkrootfs makes a new directory)", err))
			}
			if err := busybox.Build(args[0]); err != nil {
				return cli.Fail(err)
			}
			return nil
		},
	}
}

// question is one row of the demo: a fact read on the host by Go, and the
// shell command that reads it inside the container.
type question struct {
	what string
	host func() string
	sh   string
}

func demo(out io.Writer, dir string) error {
	questions := []question{
		{"ls /", hostLs, "ls / | tr '\\n' ' '"},
		{"root mount (mountinfo)", hostRootMount, "awk '$5==\"/\" {print $4}' /proc/self/mountinfo"},
		{"mounts", hostMounts, "wc -l < /proc/self/mountinfo"},
		{"read /proc/timer_list (masked)", hostTimerList, "n=$(head -c 4096 /proc/timer_list | wc -c); echo \"$n bytes (it is /dev/null)\""},
		{"write /proc/sys (read-only)", hostProcSys, "(echo x > /proc/sys/kernel/domainname) 2>&1 | sed 's/.*: //'"},
		{"mount a tmpfs (CAP_SYS_ADMIN)", hostMount, "mkdir -p /mnt; mount -t tmpfs none /mnt 2>&1 | sed 's/^mount: //'"},
		{"CapEff", hostCapEff, "awk '/CapEff/ {print $2}' /proc/self/status"},
	}
	w := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintf(out, "The same questions on the host and in a container whose root is %s:\n\n", dir)
	fmt.Fprintln(w, "QUESTION\tHOST\tCONTAINER")
	for _, q := range questions {
		inside, err := runCaptured(dir, "sh", "-c", q.sh)
		if err != nil {
			return cli.Fail(fmt.Errorf("%s: %w", q.what, err))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", q.what, short(q.host()), short(inside))
	}
	w.Flush()
	fmt.Fprintln(out, "\nThe container's / is the busybox directory (its mount's root is that host path),")
	fmt.Fprintln(out, "with a handful of mounts of its own; /proc/timer_list is covered by /dev/null, /proc/sys")
	fmt.Fprintln(out, "is read-only, and without CAP_SYS_ADMIN its root may not mount anything. Try:")
	fmt.Fprintln(out, "  go run ./03-rootfs mkrootfs ./busybox-rootfs")
	fmt.Fprintln(out, "  sudo go run ./03-rootfs run --rootfs ./busybox-rootfs -it -- sh")
	fmt.Fprintln(out, "  sudo go run ./03-rootfs run --rootfs ./busybox-rootfs --privileged -- grep CapEff /proc/self/status")
	fmt.Fprintln(out, "and the OCI runtime: see 03-rootfs/README.md (spec, create, start, state, kill, delete).")
	return nil
}

// runCaptured runs args in a container on dir with Docker's defaults and
// returns what it printed on stdout and stderr.
func runCaptured(dir string, args ...string) (string, error) {
	var runFlags cli.RunFlags
	spec, err := runFlags.Spec(args)
	if err != nil {
		return "", err
	}
	if err := (&runflags.Flags{Rootfs: dir}).Apply(spec); err != nil {
		return "", err
	}
	res, err := (&cgroups.Flags{}).Resources(1)
	if err != nil {
		return "", err
	}
	spec.Linux.Resources = res
	spec.Linux.CgroupsPath = cgroups.Prefix + "/demo-" + spec.Hostname
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&buf, r); close(done) }()
	result, err := cgroups.Run(spec, namespacesStdio(w), cgroups.Options{})
	w.Close()
	<-done
	r.Close()
	if err == nil && result.Cleanup != nil {
		err = result.Cleanup
	}
	return strings.TrimSpace(buf.String()), err
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func hostLs() string {
	entries, _ := os.ReadDir("/")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

func mountinfo() [][]string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	s := bufio.NewScanner(f)
	for s.Scan() {
		out = append(out, strings.Fields(s.Text()))
	}
	return out
}

func hostRootMount() string {
	for _, f := range mountinfo() {
		if len(f) > 4 && f[4] == "/" {
			return f[3]
		}
	}
	return "?"
}

func hostMounts() string { return fmt.Sprint(len(mountinfo())) }

func hostTimerList() string {
	f, err := os.Open("/proc/timer_list")
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	n, _ := io.Copy(io.Discard, io.LimitReader(f, 4096))
	return fmt.Sprintf("%d bytes (every CPU's kernel timers)", n)
}

func hostProcSys() string {
	// Only asked, never written: the host's settings stay as they are.
	if err := unixAccessW("/proc/sys/kernel/domainname"); err != nil {
		return err.Error()
	}
	return "allowed"
}

func hostMount() string {
	c, err := capability.NewPid2(0)
	if err == nil && c.Load() == nil && c.Get(capability.EFFECTIVE, capability.CAP_SYS_ADMIN) {
		return "allowed (root holds CAP_SYS_ADMIN)"
	}
	return "refused"
}

func hostCapEff() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// namespacesStdio sends a container's stdout and stderr to w, stdin from /dev/null.
func namespacesStdio(w *os.File) namespaces.Stdio {
	return namespaces.Stdio{Stdout: w, Stderr: w}
}

// unixAccessW asks the kernel whether we may write path, without writing.
func unixAccessW(path string) error {
	if err := unix.Access(path, unix.W_OK); err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	return nil
}
