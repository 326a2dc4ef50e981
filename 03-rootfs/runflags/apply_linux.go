package runflags

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/02-cgroups/cgroups"
	"minibox/03-rootfs/rootfs"
	"minibox/03-rootfs/seccomp"
)

// Apply turns the flags into the spec that lesson 01 and 02 filled: a root
// filesystem, Docker's mounts plus the user's, a clean environment and
// working directory, the user, capabilities, rlimits and security options.
// Every mistake in the input is reported here, before anything is created.
func (f *Flags) Apply(spec *specs.Spec) error {
	if f.Rootfs == "" {
		return errors.New("--rootfs is required: give the directory that holds the container's files, e.g. --rootfs ./busybox")
	}
	root, err := filepath.Abs(f.Rootfs)
	if err != nil {
		return fmt.Errorf("--rootfs %s: %w", f.Rootfs, err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return fmt.Errorf("--rootfs %s: no such directory", f.Rootfs)
	}
	spec.Root = &specs.Root{Path: root, Readonly: f.ReadOnly}
	p := spec.Process

	// The container has files of its own now: the host's environment and
	// working directory mean nothing in it.
	env, err := f.environment(spec.Hostname, os.LookupEnv)
	if err != nil {
		return err
	}
	p.Env = env
	p.Cwd = "/"
	if f.Workdir != "" {
		if !filepath.IsAbs(f.Workdir) {
			return fmt.Errorf("the working directory %q is invalid: it must be an absolute path", f.Workdir)
		}
		p.Cwd = filepath.Clean(f.Workdir)
	}
	p.Terminal = f.TTY
	if f.User != "" {
		if _, _, err := ParseUser(f.User); err != nil {
			return err
		}
		u, _, err := rootfs.LookupUser(root, f.User)
		if err != nil {
			return err
		}
		p.User = u
	}

	var sec Security
	for _, s := range f.SecurityOpt {
		if err := ParseSecurityOpt(s, &sec); err != nil {
			return err
		}
	}
	p.NoNewPrivileges = sec.NoNewPrivileges
	if err := f.mounts(spec); err != nil {
		return err
	}
	if !f.Privileged && sec.SystemPaths != "unconfined" {
		spec.Linux.MaskedPaths = rootfs.DefaultMaskedPaths()
		spec.Linux.ReadonlyPaths = rootfs.DefaultReadonlyPaths()
	}
	if err := f.capabilities(p); err != nil {
		return err
	}
	if err := f.seccomp(spec, sec); err != nil {
		return err
	}
	return f.rlimits(p)
}

// environment is Docker's default environment, then the env files, then -e.
func (f *Flags) environment(hostname string, lookup LookupEnv) ([]string, error) {
	env := []string{"PATH=" + DefaultPath, "HOSTNAME=" + hostname}
	if f.TTY {
		env = append(env, "TERM=xterm")
	}
	for _, name := range f.EnvFiles {
		file, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %w", err)
		}
		kvs, err := ParseEnvFile(name, file, lookup)
		file.Close()
		if err != nil {
			return nil, err
		}
		env = MergeEnv(env, kvs...)
	}
	for _, e := range f.Env {
		kv, ok, err := ParseEnv(e, lookup)
		if err != nil {
			return nil, err
		}
		if ok {
			env = MergeEnv(env, kv)
		}
	}
	return env, nil
}

// mounts fills spec.Mounts: Docker's defaults, then -v and --tmpfs with the
// shallower destinations first, so that /data is mounted before /data/x.
func (f *Flags) mounts(spec *specs.Spec) error {
	mounts := rootfs.DefaultMounts()
	if f.Privileged {
		for i, m := range mounts {
			switch m.Destination {
			case "/dev":
				// The host's devices, with whatever is mounted in
				// /dev (an rbind): the container may use every disk.
				// Setup creates no nodes in a bound /dev.
				mounts[i] = specs.Mount{Destination: "/dev", Type: "bind", Source: "/dev", Options: []string{"rbind", "nosuid"}}
			case "/sys":
				mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
			}
		}
	}
	var user []specs.Mount
	for _, v := range f.Volumes {
		m, err := ParseVolume(v)
		if err != nil {
			return err
		}
		if _, err := os.Stat(m.Source); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("invalid volume specification: '%s': bind source path does not exist: %s", v, m.Source)
			}
			return fmt.Errorf("invalid volume specification: '%s': %w", v, err)
		}
		user = append(user, m)
	}
	for _, t := range f.Tmpfs {
		m, err := ParseTmpfs(t)
		if err != nil {
			return err
		}
		user = append(user, m)
	}
	seen := map[string]bool{}
	for _, m := range user {
		if seen[m.Destination] {
			return fmt.Errorf("duplicate mount point: %s", m.Destination)
		}
		seen[m.Destination] = true
	}
	slices.SortStableFunc(user, func(a, b specs.Mount) int {
		return strings.Count(a.Destination, "/") - strings.Count(b.Destination, "/")
	})
	spec.Mounts = append(mounts, user...)
	return nil
}

// capabilities sets the capability sets: Docker's default list changed by
// --cap-add and --cap-drop, or with --privileged all the runtime holds.
func (f *Flags) capabilities(p *specs.Process) error {
	all := rootfs.AllCapabilities()
	if f.Privileged {
		p.Capabilities = rootfs.CapabilitiesOf(all)
		return nil
	}
	caps, err := TweakCapabilities(rootfs.DefaultCapabilities(), all, f.CapAdd, f.CapDrop)
	if err != nil {
		return err
	}
	for _, c := range caps {
		if !slices.Contains(all, c) {
			return fmt.Errorf("--cap-add %s: minibox itself does not hold this capability (it is not in its bounding set, CapBnd in /proc/self/status), so it cannot give it", c)
		}
	}
	p.Capabilities = rootfs.CapabilitiesOf(caps)
	return nil
}

// seccomp fills spec.Linux.Seccomp: Docker's default profile, settled for
// the container's capabilities; none with --privileged or
// seccomp=unconfined; or a Docker-format profile file. A broken profile is
// reported here, before anything is created.
func (f *Flags) seccomp(spec *specs.Spec, sec Security) error {
	var caps []string
	if spec.Process.Capabilities != nil {
		caps = spec.Process.Capabilities.Bounding
	}
	switch {
	case f.Privileged || sec.Seccomp == "unconfined":
		spec.Linux.Seccomp = nil
	case sec.Seccomp != "":
		path, err := filepath.Abs(sec.Seccomp)
		if err != nil {
			return fmt.Errorf("--security-opt seccomp=%s: %w", sec.Seccomp, err)
		}
		if fi, err := os.Stat(path); err != nil || fi.IsDir() {
			return fmt.Errorf("--security-opt seccomp=%s: no such profile file", sec.Seccomp)
		}
		if spec.Linux.Seccomp, err = seccomp.LoadFor(path, caps); err != nil {
			return fmt.Errorf("--security-opt seccomp=%s: %w", sec.Seccomp, err)
		}
	default:
		spec.Linux.Seccomp = seccomp.DefaultFor(caps)
	}
	return nil
}

// rlimits fills spec.Process.Rlimits; a later --ulimit of the same name
// wins. A hard limit above our own cannot be set without CAP_SYS_RESOURCE:
// say so now rather than when the container starts.
func (f *Flags) rlimits(p *specs.Process) error {
	var list []specs.POSIXRlimit
	for _, s := range f.Ulimits {
		rl, err := ParseUlimit(s)
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(list, func(r specs.POSIXRlimit) bool { return r.Type == rl.Type }); i >= 0 {
			list[i] = rl
		} else {
			list = append(list, rl)
		}
	}
	for _, rl := range list {
		if err := checkHardLimit(rl); err != nil {
			return fmt.Errorf("--ulimit: %w", err)
		}
	}
	p.Rlimits = list
	return nil
}

func checkHardLimit(rl specs.POSIXRlimit) error {
	res, ok := rlimitResource[rl.Type]
	if !ok {
		return nil
	}
	var cur unix.Rlimit
	if err := unix.Getrlimit(res, &cur); err != nil {
		return nil // let the runtime report it
	}
	if rl.Hard <= cur.Max {
		return nil
	}
	if c, err := capability.NewPid2(0); err == nil && c.Load() == nil && c.Get(capability.EFFECTIVE, capability.CAP_SYS_RESOURCE) {
		return nil
	}
	return fmt.Errorf("%s: the hard limit %s is above minibox's own hard limit %s, and raising it needs CAP_SYS_RESOURCE, which minibox does not hold: ask for at most %s (see `ulimit -H -a`)",
		strings.ToLower(strings.TrimPrefix(rl.Type, "RLIMIT_")), limitString(rl.Hard), limitString(cur.Max), limitString(cur.Max))
}

var rlimitResource = map[string]int{
	"RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// DeviceRules are the devices cgroup rules of Docker's `run`: deny every
// device, then allow the nodes of a container's /dev (and mknod, which
// alone gives nothing); with --privileged, allow every device.
func (f *Flags) DeviceRules() []specs.LinuxDeviceCgroup {
	if f.Privileged {
		return []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	return append([]specs.LinuxDeviceCgroup{cgroups.DenyAllDevices()}, cgroups.DefaultDevices()...)
}
