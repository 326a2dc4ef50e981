package namespaces

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Config is what the lesson's `run` flags say about a container.
type Config struct {
	Args     []string // the command and its arguments; Args[0] is looked up in PATH
	Env      []string // the command's environment (KEY=VALUE)
	Cwd      string   // working directory; "" means "/"
	Hostname string   // "" picks a random one, as Docker uses the container ID
	Init     bool     // run our small init as PID 1 (see reaper_linux.go)
	// UserNS, when not nil, adds a user namespace with this mapping for both
	// UIDs and GIDs: root inside becomes an unprivileged user outside.
	UserNS *IDMap
}

// IDMap maps Size IDs starting at ContainerID inside to HostID outside.
type IDMap struct {
	ContainerID, HostID, Size uint32
}

// DefaultUserNS is the mapping --userns uses when given no value: root in the
// container is UID 100000 on the host, and 65536 IDs follow it. It is the
// first range that useradd hands out in /etc/subuid on Debian and Ubuntu.
var DefaultUserNS = IDMap{ContainerID: 0, HostID: 100000, Size: 65536}

// InitAnnotation marks a spec whose PID 1 is our own init (`run --init`).
const InitAnnotation = "org.minibox.init"

// NewSpec fills an OCI runtime spec from a Config. It validates the input so
// that a bad hostname or an empty command is reported before anything runs.
func NewSpec(c Config) (*specs.Spec, error) {
	if len(c.Args) == 0 || c.Args[0] == "" {
		return nil, fmt.Errorf("no command given: say what to run after --")
	}
	hostname := c.Hostname
	if hostname == "" {
		hostname = RandomID()[:12]
	}
	if err := ValidateHostname(hostname); err != nil {
		return nil, err
	}
	cwd := c.Cwd
	if cwd == "" {
		cwd = "/"
	}
	spec := &specs.Spec{
		Version:  specs.Version,
		Hostname: hostname,
		Process: &specs.Process{
			Args: c.Args,
			Env:  c.Env,
			Cwd:  cwd,
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.MountNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.CgroupNamespace},
			},
		},
		Annotations: map[string]string{},
	}
	if c.Init {
		spec.Annotations[InitAnnotation] = "true"
	}
	if c.UserNS != nil {
		m := *c.UserNS
		if m.Size == 0 {
			return nil, fmt.Errorf("user namespace mapping %v: size must be at least 1", m)
		}
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		id := specs.LinuxIDMapping{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size}
		spec.Linux.UIDMappings = []specs.LinuxIDMapping{id}
		spec.Linux.GIDMappings = []specs.LinuxIDMapping{id}
	}
	return spec, nil
}

// ParseIDMap reads "HOSTID" or "HOSTID:SIZE" or "CONTAINERID:HOSTID:SIZE".
func ParseIDMap(s string) (IDMap, error) {
	m := DefaultUserNS
	parts := strings.Split(s, ":")
	nums := make([]uint32, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return IDMap{}, fmt.Errorf("invalid user namespace mapping %q: %q is not a number; use HOSTID[:SIZE] or CONTAINERID:HOSTID:SIZE, e.g. 100000:65536", s, p)
		}
		nums[i] = uint32(n)
	}
	switch len(nums) {
	case 1:
		m.HostID = nums[0]
	case 2:
		m.HostID, m.Size = nums[0], nums[1]
	case 3:
		m.ContainerID, m.HostID, m.Size = nums[0], nums[1], nums[2]
	default:
		return IDMap{}, fmt.Errorf("invalid user namespace mapping %q: use HOSTID[:SIZE] or CONTAINERID:HOSTID:SIZE", s)
	}
	if m.Size == 0 {
		return IDMap{}, fmt.Errorf("invalid user namespace mapping %q: size must be at least 1", s)
	}
	if uint64(m.HostID)+uint64(m.Size) > 1<<32-1 || uint64(m.ContainerID)+uint64(m.Size) > 1<<32-1 {
		return IDMap{}, fmt.Errorf("invalid user namespace mapping %q: the range runs past the largest ID 4294967294", s)
	}
	return m, nil
}

// ValidateHostname accepts what the kernel and DNS both accept: labels of
// letters, digits and '-', separated by dots, no label starting or ending
// with '-', at most 63 characters in all (the kernel allows 64; Docker and
// DNS labels stop at 63).
func ValidateHostname(h string) error {
	bad := func(why string) error {
		return fmt.Errorf("invalid hostname %q: %s; use letters, digits, '-' and '.', at most 63 characters, e.g. web-1", h, why)
	}
	if h == "" {
		return bad("it is empty")
	}
	if len(h) > 63 {
		return bad(fmt.Sprintf("it has %d characters", len(h)))
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return bad("it has an empty label")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return bad("a label starts or ends with '-'")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return bad(fmt.Sprintf("%q is not allowed", r))
			}
		}
	}
	return nil
}

// RandomID returns 64 random hex digits, the shape of a Docker container ID.
func RandomID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err)) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}

// nsFlags is the one table of what the kernel calls each OCI namespace type
// (see namespaces(7)): the clone(2) flag that creates one, that flag's name
// for messages, and the file in /proc/PID/ns through which setns(2) joins
// one ("" for the types a Go program cannot join: see join_linux.go). For a
// PID namespace that file is pid_for_children: setns(CLONE_NEWPID) changes
// where the thread's future children go, not the thread itself.
var nsFlags = map[specs.LinuxNamespaceType]struct {
	flag     uintptr
	name     string
	joinFile string
}{
	specs.PIDNamespace:     {unix.CLONE_NEWPID, "CLONE_NEWPID", "pid_for_children"},
	specs.UTSNamespace:     {unix.CLONE_NEWUTS, "CLONE_NEWUTS", "uts"},
	specs.IPCNamespace:     {unix.CLONE_NEWIPC, "CLONE_NEWIPC", "ipc"},
	specs.MountNamespace:   {unix.CLONE_NEWNS, "CLONE_NEWNS", ""},
	specs.NetworkNamespace: {unix.CLONE_NEWNET, "CLONE_NEWNET", "net"},
	specs.CgroupNamespace:  {unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP", "cgroup"},
	specs.UserNamespace:    {unix.CLONE_NEWUSER, "CLONE_NEWUSER", ""},
}

// cloneFlags turns spec.Linux.Namespaces into the flags for clone(2): one
// CLONE_NEW* flag for each namespace to create. An entry with a path names a
// namespace to join instead (splitJoins and forkExecJoined enter it with
// setns(2) before clone), so it adds no flag; its type must still be known
// and appear only once in the list.
func cloneFlags(spec *specs.Spec) (uintptr, error) {
	if spec.Linux == nil {
		return 0, nil
	}
	// LAB 01.1 BEGIN: turn the spec's namespaces into clone flags
	var flags, seen uintptr
	for _, ns := range spec.Linux.Namespaces {
		t, ok := nsFlags[ns.Type]
		if !ok {
			return 0, fmt.Errorf("namespace %q: not supported (use pid, uts, ipc, mount, network, cgroup or user)", ns.Type)
		}
		if seen&t.flag != 0 {
			return 0, fmt.Errorf("namespace %q: listed twice", ns.Type)
		}
		seen |= t.flag
		if ns.Path == "" {
			flags |= t.flag // to create; one with a path is joined
		}
	}
	return flags, nil
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0, lab.Todo("01.1")
}

// FlagNames spells clone flags as their names, for error messages, in the
// order of their values: "CLONE_NEWNS|CLONE_NEWPID".
func FlagNames(flags uintptr) string {
	var names []string
	for bit := uintptr(1); bit != 0; bit <<= 1 {
		for _, t := range nsFlags {
			if flags&bit != 0 && t.flag == bit {
				names = append(names, t.name)
			}
		}
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// HasNamespace reports whether spec puts the container in a namespace of
// type t of its own: a new one, or one it joins by path.
func HasNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	return findNamespace(spec, t) != nil
}

// findNamespace returns spec's entry for namespace type t, or nil. An entry
// with a Path joins that namespace; one without makes a new one.
func findNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) *specs.LinuxNamespace {
	if spec.Linux == nil {
		return nil
	}
	for i := range spec.Linux.Namespaces {
		if spec.Linux.Namespaces[i].Type == t {
			return &spec.Linux.Namespaces[i]
		}
	}
	return nil
}
