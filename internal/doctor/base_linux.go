package doctor

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Base returns the checks lesson 01 needs, in the order they print: root,
// kernel, one probe per namespace type, cgroups, overlayfs, iptables and the
// tools. Each call returns a fresh slice, so a lesson may append to it.
func Base() []Check {
	checks := []Check{
		{Name: "root", Run: checkRoot},
		{Name: "kernel", Run: checkKernel},
	}
	for _, ns := range namespaceKinds {
		checks = append(checks, namespaceCheck(ns))
	}
	return append(checks,
		Check{Name: "cgroups", Run: func() Result { return cgroupResult(CgroupLayout()) }},
		FileSystemCheck("overlay", "sudo modprobe overlay (or a kernel with CONFIG_OVERLAY_FS)"),
		Check{Name: "tool: iptables", Run: checkIptables},
		required(ToolCheck("go", "builds the lab", "run ./setup.sh")),
		Check{Name: "tool: busybox", Run: checkBusybox},
		ToolCheck("unshare", "used by the benchmark; package util-linux", "sudo apt-get install util-linux"),
		ToolCheck("ip", "to look around in network namespaces; package iproute2", "sudo apt-get install iproute2"),
		ToolCheck("make", "runs the lab's targets", "sudo apt-get install make"),
	)
}

// CgroupLayout tells how cgroups are mounted on this machine. version is 2
// when /sys/fs/cgroup itself is a cgroup2 filesystem (unified; controllers
// from its cgroup.controllers) and 1 for a v1 or hybrid layout (controllers
// are the v1 ones mounted, detail tells about a cgroup2 mount beside them).
// err is set when no cgroup filesystem is mounted at all.
func CgroupLayout() (version int, controllers []string, detail string, err error) {
	const root = "/sys/fs/cgroup"
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		ctrls, err := readControllers(root)
		if err != nil {
			return 2, nil, "", err
		}
		return 2, ctrls, "v2 (unified), controllers: " + listOrNone(ctrls), nil
	}

	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return 0, nil, "", fmt.Errorf("read mount table: %w", err)
	}
	m := parseCgroupMountinfo(string(data))
	switch {
	case len(m.v1) == 0 && len(m.v2) == 0:
		return 0, nil, "", errNoCgroup
	case len(m.v1) == 0:
		// cgroup2 is mounted, only not at /sys/fs/cgroup.
		ctrls, err := readControllers(m.v2[0])
		if err != nil {
			return 2, nil, "", err
		}
		return 2, ctrls, fmt.Sprintf("v2 at %s (not at %s), controllers: %s", m.v2[0], root, listOrNone(ctrls)), nil
	}

	detail = "v1, controllers: " + strings.Join(m.v1, " ") + "; no cgroup2 mount"
	if len(m.v2) > 0 {
		// Hybrid: systemd mounts an extra cgroup2 at /sys/fs/cgroup/unified,
		// usually with no controllers (they are all bound to v1).
		at := m.v2[0]
		if slices.Contains(m.v2, filepath.Join(root, "unified")) {
			at = filepath.Join(root, "unified")
		}
		ctrls, _ := readControllers(at)
		detail = fmt.Sprintf("hybrid, v1 controllers: %s; cgroup2 at %s with controllers: %s",
			strings.Join(m.v1, " "), at, listOrNone(ctrls))
	}
	return 1, m.v1, detail, nil
}

// required turns a check's warning into a failure: for tools the lab
// cannot do without.
func required(c Check) Check {
	run := c.Run
	c.Run = func() Result {
		r := run()
		if r.Status == Warn {
			r.Status = Fail
		}
		return r
	}
	return c
}

func checkRoot() Result {
	if euid := os.Geteuid(); euid != 0 {
		return Result{Status: Fail, Detail: fmt.Sprintf("effective uid %d; namespaces, cgroups and mounts need root", euid),
			Fix: "run it with sudo"}
	}
	return Result{Status: OK, Detail: "effective uid 0"}
}

func checkKernel() Result {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return Result{Status: Warn, Detail: fmt.Sprintf("uname: %v", err), Fix: "check `uname -r` by hand: the lab needs 5.8 or newer"}
	}
	return kernelResult(unix.ByteSliceToString(uts.Release[:]))
}

// namespaceKind is one namespace type: its name in /proc/self/ns, the
// clone(2) flag that creates one and the kernel option that provides it.
type namespaceKind struct {
	name   string
	flag   uintptr
	flagID string
	config string
}

// namespaceKinds are probed in this order; see namespaces(7).
var namespaceKinds = []namespaceKind{
	{"pid", unix.CLONE_NEWPID, "CLONE_NEWPID", "CONFIG_PID_NS"},
	{"uts", unix.CLONE_NEWUTS, "CLONE_NEWUTS", "CONFIG_UTS_NS"},
	{"ipc", unix.CLONE_NEWIPC, "CLONE_NEWIPC", "CONFIG_IPC_NS"},
	{"mnt", unix.CLONE_NEWNS, "CLONE_NEWNS", "CONFIG_NAMESPACES"},
	{"net", unix.CLONE_NEWNET, "CLONE_NEWNET", "CONFIG_NET_NS"},
	{"cgroup", unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP", "CONFIG_CGROUPS"},
	{"user", unix.CLONE_NEWUSER, "CLONE_NEWUSER", "CONFIG_USER_NS"},
}

// namespaceCheck probes one namespace type for real: it starts `true` in a
// new namespace of that type and waits for it. Everything but a user
// namespace needs CAP_SYS_ADMIN, so as a normal user only the user probe runs.
func namespaceCheck(ns namespaceKind) Check {
	return Check{Name: "namespace: " + ns.name, Run: func() Result {
		uid := os.Geteuid()
		if ns.flag == unix.CLONE_NEWUSER {
			return userNSResult(probeNamespace(ns.flag), uid, readUserNSKnobs())
		}
		if uid != 0 {
			return Result{Status: Warn, Detail: fmt.Sprintf("not probed: creating %s namespaces needs root", ns.name),
				Fix: "run it with sudo"}
		}
		if err := probeNamespace(ns.flag); err != nil {
			return Result{Status: Fail, Detail: fmt.Sprintf("%s failed: %v", ns.flagID, err), Fix: nsFix(ns.config)}
		}
		return Result{Status: OK, Detail: fmt.Sprintf("created one (%s)", ns.flagID)}
	}}
}

// probeNamespace runs `true` with clone flag flag and reports whether the
// kernel let it start. For a user namespace it maps uid/gid 0 inside to the
// caller's effective ids, size 1: the one mapping an unprivileged parent
// may write (user_namespaces(7)).
func probeNamespace(flag uintptr) error {
	truePath, err := exec.LookPath("true")
	if err != nil {
		truePath = "/bin/true"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, truePath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flag}
	if flag == unix.CLONE_NEWUSER {
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	return cmd.Run()
}

// readUserNSKnobs reads the sysctls behind user namespaces; -1 for absent
// or unreadable ones.
func readUserNSKnobs() userNSKnobs {
	return userNSKnobs{
		apparmorRestrict: readSysctlInt("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
		maxUserNS:        readSysctlInt("/proc/sys/user/max_user_namespaces"),
		unprivClone:      readSysctlInt("/proc/sys/kernel/unprivileged_userns_clone"),
	}
}

func readSysctlInt(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return -1
	}
	return n
}

// readControllers lists the controllers in a cgroup2 directory's
// cgroup.controllers (one line, space separated).
func readControllers(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("read cgroup2 controllers: %w", err)
	}
	return strings.Fields(string(data)), nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

// checkIptables shows the version of the iptables that lesson 05 uses. It
// never runs an iptables-legacy binary: once that runs, every later iptables
// command warns about legacy tables.
func checkIptables() Result {
	const fixLegacy = "switch to the nf_tables backend: sudo update-alternatives --set iptables /usr/sbin/iptables-nft"
	path, r := toolResult("iptables", "needed from lesson 05", "sudo apt-get install iptables")
	if r.Status != OK {
		return r
	}
	if target, err := filepath.EvalSymlinks(path); err == nil && strings.Contains(filepath.Base(target), "legacy") {
		return Result{Status: Warn, Detail: fmt.Sprintf("%s is %s (legacy backend; not run)", path, target), Fix: fixLegacy}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	version, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil {
		return Result{Status: Warn, Detail: fmt.Sprintf("%s --version: %v %s", path, err, version),
			Fix: "sudo apt-get install --reinstall iptables"}
	}
	if strings.Contains(version, "legacy") {
		return Result{Status: Warn, Detail: version, Fix: fixLegacy}
	}
	return Result{Status: OK, Detail: version}
}

// checkBusybox finds busybox and makes sure it is statically linked: the
// tests copy it alone into an image, where no dynamic loader exists. A
// static ELF has no PT_INTERP program header (elf(5)).
func checkBusybox() Result {
	const fix = "sudo apt-get install busybox-static"
	path, r := toolResult("busybox", "tests build their images from Debian's busybox-static", fix)
	if r.Status != OK {
		return r
	}
	f, err := elf.Open(path)
	if err != nil {
		return Result{Status: Warn, Detail: fmt.Sprintf("%s: not a readable ELF file: %v", path, err), Fix: fix}
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return Result{Status: Warn, Detail: path + " is dynamically linked (Debian's busybox package); images need a static one", Fix: fix}
		}
	}
	return Result{Status: OK, Detail: r.Detail + " (static)"}
}
