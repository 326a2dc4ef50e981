package runflags

import "github.com/spf13/pflag"

// Flags are lesson 03's flags of `run`, as the user typed them.
type Flags struct {
	Rootfs      string
	Env         []string
	EnvFiles    []string
	Workdir     string
	User        string
	ReadOnly    bool
	CapAdd      []string
	CapDrop     []string
	Privileged  bool
	SecurityOpt []string
	Ulimits     []string
	Volumes     []string
	Tmpfs       []string
	TTY         bool
	Interactive bool
}

// AddFlags registers the flags on fs with Docker's names.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.Rootfs, "rootfs", "", "directory holding the container's root filesystem (required), e.g. an unpacked busybox or Debian image")
	fs.StringArrayVarP(&f.Env, "env", "e", nil, "set an environment variable: KEY=VALUE, or KEY to pass the caller's value (repeatable)")
	fs.StringArrayVar(&f.EnvFiles, "env-file", nil, "read environment variables from a file, one KEY=VALUE or KEY a line (repeatable)")
	fs.StringVarP(&f.Workdir, "workdir", "w", "", "working directory inside the container, created if missing (default /)")
	fs.StringVarP(&f.User, "user", "u", "", "run as NAME|UID[:GROUP|GID], looked up in the root filesystem's /etc/passwd and /etc/group")
	fs.BoolVar(&f.ReadOnly, "read-only", false, "mount the container's root filesystem read-only")
	fs.StringArrayVar(&f.CapAdd, "cap-add", nil, "add a capability, e.g. NET_ADMIN, or ALL (repeatable)")
	fs.StringArrayVar(&f.CapDrop, "cap-drop", nil, "drop a capability, e.g. NET_RAW, or ALL (repeatable)")
	fs.BoolVar(&f.Privileged, "privileged", false, "give every capability the runtime holds, the host's devices, and no masked paths or seccomp")
	fs.StringArrayVar(&f.SecurityOpt, "security-opt", nil, "no-new-privileges[=true|false], seccomp=unconfined|PROFILE.json, systempaths=unconfined (repeatable)")
	fs.StringArrayVar(&f.Ulimits, "ulimit", nil, "resource limit NAME=SOFT[:HARD], e.g. nofile=1024:2048 (repeatable)")
	fs.StringArrayVarP(&f.Volumes, "volume", "v", nil, "bind-mount a host directory: /host/dir:/container/dir[:ro] (repeatable)")
	fs.StringArrayVar(&f.Tmpfs, "tmpfs", nil, "mount a tmpfs: /dir[:size=64m,mode=1777] (repeatable)")
	fs.BoolVarP(&f.TTY, "tty", "t", false, "give the container a pseudo-terminal")
	fs.BoolVarP(&f.Interactive, "interactive", "i", false, "keep stdin attached (without -i the container's stdin is /dev/null)")
}
