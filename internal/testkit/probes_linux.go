package testkit

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// runProbe is the probe that runs inside containers as their command. It
// prints facts, one "key value" per line, for the test to compare with what
// the host sees, or does something the test then measures from outside.
func runProbe(name string, args []string) int {
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	num := func(i int) int {
		n, _ := strconv.Atoi(arg(i))
		return n
	}
	waitLine := func() { _, _ = bufio.NewReader(os.Stdin).ReadString('\n') }
	switch name {
	case "ns": // the inode of each namespace we are in, the host name, links, cgroups
		for _, t := range []string{"pid", "uts", "ipc", "mnt", "net", "cgroup", "user"} {
			ino, err := NSInode("self", t)
			if err != nil {
				fmt.Println(t, "error", err)
				continue
			}
			fmt.Println(t, ino)
		}
		h, _ := os.Hostname()
		fmt.Println("hostname", h)
		links, _ := netlink.LinkList()
		for _, l := range links {
			fmt.Println("link", l.Attrs().Name, l.Attrs().Flags&net.FlagUp != 0)
		}
		cg, _ := os.ReadFile("/proc/self/cgroup")
		for _, l := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
			fmt.Println("cgroupfile", l)
		}
		return 0
	case "pids": // what /proc shows
		var pids []string
		for _, p := range AllPIDs() {
			pids = append(pids, strconv.Itoa(p))
		}
		fmt.Printf("self %d\n", os.Getpid())
		fmt.Printf("pids %s\n", strings.Join(pids, ","))
		return 0
	case "ipc-has": // does a SysV shared memory segment with this key exist?
		_, err := unix.SysvShmGet(num(0), 0, 0)
		fmt.Println(err == nil)
		return 0
	case "ipc-make": // make one, wait for a line on stdin, remove it
		id, err := unix.SysvShmGet(num(0), 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("ready")
		waitLine()
		_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		return 0
	case "mount-tmpfs": // mount a tmpfs on args[0], wait for a line on stdin
		if err := unix.Mount("tmpfs", arg(0), "tmpfs", 0, "size=1m"); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("ready")
		waitLine()
		return 0
	case "wait-signal": // exit with args[0] when a signal arrives
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2)
		fmt.Println("ready")
		sig := <-ch
		fmt.Println("got", int(sig.(syscall.Signal)))
		return num(0)
	case "spawn-orphan": // start a child that outlives us by a little, then exit
		if err := exec.Command(os.Args[0], "helper", "sleep", "150ms").Start(); err != nil {
			fmt.Println("error", err)
			return 1
		}
		return 0
	case "udp-echo": // answer each datagram on UDP port args[0] with "echo:" + it
		pc, err := net.ListenPacket("udp4", ":"+arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("listening")
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return 1
			}
			pc.WriteTo(append([]byte("echo:"), buf[:n]...), from)
		}
	case "sleep":
		d, _ := time.ParseDuration(arg(0))
		time.Sleep(d)
		return 0
	case "zombies": // make args[0] orphans, let them die, count zombies; exit args[1]
		for i := 0; i < num(0); i++ {
			if err := exec.Command(os.Args[0], "helper", "spawn-orphan").Run(); err != nil {
				fmt.Println("error", err)
				return 1
			}
		}
		time.Sleep(time.Second)
		zombies := 0
		for _, p := range AllPIDs() {
			if _, state, ok := StatOf(p); ok && state == "Z" {
				zombies++
			}
		}
		fmt.Println("zombies", zombies)
		return num(1)
	case "touch": // create args[0] and print its owner as seen inside
		if err := os.WriteFile(arg(0), nil, 0o644); err != nil {
			fmt.Println("error", err)
			return 1
		}
		var st unix.Stat_t
		_ = unix.Stat(arg(0), &st)
		fmt.Println("uid", st.Uid, "gid", st.Gid, "euid", os.Geteuid())
		return 0
	case "forks": // start up to args[0] sleeping children; then say how many, and wait
		// A shell is no good here: dash and busybox sh exit when fork fails.
		started, failed := 0, 0
		var kids []*exec.Cmd
		for i := 0; i < num(0); i++ {
			cmd := exec.Command("sleep", "60")
			if err := cmd.Start(); err != nil {
				failed++
				continue
			}
			started++
			kids = append(kids, cmd)
		}
		fmt.Println("started", started, "failed", failed)
		fmt.Println("ready")
		waitLine()
		for _, k := range kids {
			_ = k.Process.Kill()
			_ = k.Wait()
		}
		return 0
	case "hog": // allocate and touch memory, 1 MiB at a time, until killed
		fmt.Println("ready")
		var keep [][]byte
		for i := 0; ; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = byte(j)
			}
			keep = append(keep, b)
			if i == 4096 {
				fmt.Println("survived 4GiB")
				return 0
			}
		}
	case "busy": // spin one CPU for args[0] of wall time, then print "done" and wait
		d, _ := time.ParseDuration(arg(0))
		fmt.Println("ready")
		if arg(1) == "wait-go" {
			waitLine()
		}
		start := time.Now()
		x := 0
		for time.Since(start) < d {
			for i := 0; i < 1e5; i++ {
				x += i
			}
		}
		fmt.Println("done", x > 0)
		waitLine()
		return 0
	case "status": // a line of /proc/self/status, e.g. Cpus_allowed_list
		b, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && k == arg(0) {
				fmt.Println(k, strings.TrimSpace(v))
			}
		}
		return 0
	case "dd": // write args[1] MiB to args[0] with O_DIRECT, print the seconds it took
		f, err := os.OpenFile(arg(0), os.O_CREATE|os.O_WRONLY|os.O_TRUNC|unix.O_DIRECT, 0o600)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		defer f.Close()
		// O_DIRECT needs an aligned buffer: mmap gives a page-aligned one.
		buf, err := unix.Mmap(-1, 0, 1<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		start := time.Now()
		for i := 0; i < num(1); i++ {
			if _, err := f.Write(buf); err != nil {
				fmt.Println("error", err)
				return 1
			}
		}
		fmt.Printf("seconds %.3f\n", time.Since(start).Seconds())
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown probe", name)
	return 2
}
