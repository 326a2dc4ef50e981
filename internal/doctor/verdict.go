package doctor

import (
	"fmt"
	"slices"
	"strings"
)

// This file turns what a check saw into a Result. The functions are pure, so
// tests cover every verdict without needing a machine that produces it.

var (
	minKernel  = kernelVersion{4, 18, 0} // below: Fail
	fullKernel = kernelVersion{5, 8, 0}  // CLONE_INTO_CGROUP (5.7), statx STATX_MNT_ID and the mount-root attribute (5.8); below: Warn
)

// kernelResult judges a kernel release string as uname(2) reports it.
func kernelResult(release string) Result {
	v, err := parseKernelRelease(release)
	if err != nil {
		return Result{Status: Warn,
			Detail: fmt.Sprintf("%q: cannot read a version from it", release),
			Fix:    "check `uname -r` by hand: the lab needs 4.18 or newer, 5.8 or newer for everything"}
	}
	switch {
	case v.less(minKernel):
		return Result{Status: Fail,
			Detail: fmt.Sprintf("%s (need >= %d.%d)", release, minKernel.major, minKernel.minor),
			Fix:    "upgrade the kernel, or use the lab VM: Ubuntu 24.04 and Debian 12 ship 6.x"}
	case v.less(fullKernel):
		return Result{Status: Warn,
			Detail: fmt.Sprintf("%s (need >= %d.%d for lessons 02 and later: CLONE_INTO_CGROUP, statx mount checks)", release, fullKernel.major, fullKernel.minor),
			Fix:    "upgrade the kernel to 5.8 or newer, or use the lab VM: Ubuntu 24.04 and Debian 12 ship 6.x"}
	}
	return Result{Status: OK,
		Detail: fmt.Sprintf("%s (need >= %d.%d, >= %d.%d for every lesson)", release, minKernel.major, minKernel.minor, fullKernel.major, fullKernel.minor)}
}

// neededControllers are the controllers lesson 02 sets limits with.
var neededControllers = []string{"memory", "cpu", "pids"}

// cgroupResult judges what CgroupLayout returned.
func cgroupResult(version int, controllers []string, detail string, err error) Result {
	if err != nil {
		return Result{Status: Fail, Detail: err.Error(),
			Fix: "boot a systemd distribution (Ubuntu 24.04, Debian 12), or mount one by hand: sudo mount -t cgroup2 none /sys/fs/cgroup"}
	}
	var missing []string
	for _, c := range neededControllers {
		if !slices.Contains(controllers, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		fix := "enable the controller in the kernel (for memory, some boards need cgroup_enable=memory on the kernel command line)"
		if version == 2 {
			fix = "the controller may be held by a v1 hierarchy: boot with systemd.unified_cgroup_hierarchy=1 " +
				"(add it to GRUB_CMDLINE_LINUX in /etc/default/grub, then sudo update-grub and reboot), or " + fix
		} else {
			fix = "boot with systemd.unified_cgroup_hierarchy=1 (add it to GRUB_CMDLINE_LINUX in /etc/default/grub, " +
				"then sudo update-grub and reboot), or " + fix
		}
		return Result{Status: Warn, Detail: fmt.Sprintf("%s; missing: %s", detail, strings.Join(missing, ", ")), Fix: fix}
	}
	return Result{Status: OK, Detail: detail}
}

// userNSKnobs are the sysctls that decide who may create a user namespace;
// -1 means the file does not exist on this kernel.
type userNSKnobs struct {
	apparmorRestrict int // kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+)
	maxUserNS        int // user.max_user_namespaces
	unprivClone      int // kernel.unprivileged_userns_clone (Debian's patch)
}

// userNSResult judges the user namespace probe. Unlike the other namespace
// types, a user namespace is made to be created without root, so the probe
// also runs for a normal user; then a failure is only a warning, because
// the lab runs with sudo.
func userNSResult(probeErr error, uid int, k userNSKnobs) Result {
	var notes []string
	if k.apparmorRestrict == 1 {
		notes = append(notes, "unprivileged user namespaces are restricted by AppArmor (root via sudo is not affected)")
	}
	switch k.unprivClone {
	case 0:
		notes = append(notes, "kernel.unprivileged_userns_clone=0: only root may create them")
	case 1:
		notes = append(notes, "kernel.unprivileged_userns_clone=1")
	}
	withNotes := func(s string) string {
		return strings.Join(append([]string{s}, notes...), "; ")
	}

	if k.maxUserNS == 0 {
		return Result{Status: Fail, Detail: withNotes("user.max_user_namespaces=0: the kernel allows none"),
			Fix: "sudo sysctl user.max_user_namespaces=15000"}
	}
	if probeErr == nil {
		return Result{Status: OK, Detail: withNotes(fmt.Sprintf("created one (CLONE_NEWUSER, uid 0 inside = uid %d outside)", uid))}
	}
	if uid != 0 {
		fix := "run it with sudo"
		switch {
		case k.apparmorRestrict == 1:
			fix += "; only if you need them without sudo: sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0"
		case k.unprivClone == 0:
			fix += "; only if you need them without sudo: sudo sysctl kernel.unprivileged_userns_clone=1"
		}
		return Result{Status: Warn, Detail: withNotes(fmt.Sprintf("CLONE_NEWUSER failed as uid %d: %v", uid, probeErr)), Fix: fix}
	}
	return Result{Status: Fail, Detail: withNotes(fmt.Sprintf("CLONE_NEWUSER failed: %v", probeErr)),
		Fix: nsFix("CONFIG_USER_NS")}
}

// nsFix is the remedy when root cannot create a namespace.
func nsFix(config string) string {
	return fmt.Sprintf("the kernel needs %s=y, and a container's seccomp profile may forbid it: "+
		"run the lab in its VM (Ubuntu 24.04 or Debian 12), not inside a container", config)
}
