package runflags

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"minibox/03-rootfs/rootfs"
)

// DefaultPath is the PATH Docker gives a container whose image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LookupEnv finds a variable of the caller's environment (os.LookupEnv).
type LookupEnv func(key string) (string, bool)

// ParseEnv reads one `-e` value as Docker does: "KEY=VALUE" is taken as it
// is (the value may be empty or hold '='); a bare "KEY" takes the value the
// caller has, and is left out (ok false) when the caller has none.
func ParseEnv(s string, lookup LookupEnv) (kv string, ok bool, err error) {
	key, _, hasValue := strings.Cut(s, "=")
	if key == "" {
		return "", false, fmt.Errorf("invalid environment variable %q: no name before '='; use -e KEY=VALUE or -e KEY", s)
	}
	if strings.ContainsRune(s, 0) {
		return "", false, fmt.Errorf("invalid environment variable %q: it holds a NUL byte, which no environment can carry", s)
	}
	if hasValue {
		return s, true, nil
	}
	if strings.IndexFunc(key, unicode.IsSpace) >= 0 {
		return "", false, fmt.Errorf("invalid environment variable %q: the name contains whitespace", s)
	}
	if v, found := lookup(key); found && !strings.ContainsRune(v, 0) {
		return key + "=" + v, true, nil
	}
	return "", false, nil
}

// ParseEnvFileLine reads one line of an --env-file as Docker does: leading
// whitespace is dropped, blank lines and lines starting with '#' are
// skipped (ok false), "KEY=VALUE" is taken literally (no quotes are removed,
// trailing blanks stay), and a bare "KEY" takes the caller's value.
func ParseEnvFileLine(line string, lookup LookupEnv) (kv string, ok bool, err error) {
	if !utf8.ValidString(line) {
		return "", false, errors.New("it holds bytes that are not UTF-8")
	}
	line = strings.TrimLeftFunc(line, unicode.IsSpace)
	if line == "" || strings.HasPrefix(line, "#") {
		return "", false, nil
	}
	key, value, hasValue := strings.Cut(line, "=")
	if key == "" {
		return "", false, fmt.Errorf("no variable name in %q", line)
	}
	if strings.IndexFunc(key, unicode.IsSpace) >= 0 {
		return "", false, fmt.Errorf("variable %q contains whitespace", key)
	}
	if strings.ContainsRune(line, 0) {
		return "", false, fmt.Errorf("variable %q holds a NUL byte", key)
	}
	if hasValue {
		return key + "=" + value, true, nil
	}
	if v, found := lookup(key); found && !strings.ContainsRune(v, 0) {
		return key + "=" + v, true, nil
	}
	return "", false, nil
}

// ParseEnvFile reads a whole --env-file; name is only for error messages.
func ParseEnvFile(name string, r io.Reader, lookup LookupEnv) ([]string, error) {
	var out []string
	s := bufio.NewScanner(r)
	s.Buffer(nil, 1<<20)
	for n := 1; s.Scan(); n++ {
		kv, ok, err := ParseEnvFileLine(s.Text(), lookup)
		if err != nil {
			return nil, fmt.Errorf("env file %s, line %d: %w", name, n, err)
		}
		if ok {
			out = append(out, kv)
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read env file %s: %w", name, err)
	}
	return out, nil
}

// MergeEnv returns base with each KEY=VALUE of add set: a key that is
// already there gets the new value in its old place, a new key goes last.
func MergeEnv(base []string, add ...string) []string {
	out := slices.Clone(base)
	for _, kv := range add {
		key, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(e string) bool { return strings.HasPrefix(e, key+"=") })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

// ParseUser checks the shape of a `-u` value: NAME or UID, optionally
// followed by ":GROUP" or ":GID". Whether the name exists is the image's
// business (rootfs.LookupUser reads its /etc/passwd).
func ParseUser(s string) (user, group string, err error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid user %q: %s; use NAME, UID, NAME:GROUP or UID:GID, e.g. -u 1000:1000", s, why)
	}
	user, group, hasGroup := strings.Cut(s, ":")
	switch {
	case user == "":
		return "", "", bad("no user")
	case hasGroup && group == "":
		return "", "", bad("no group after ':'")
	case strings.Contains(group, ":"):
		return "", "", bad("more than one ':'")
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == 0 || r == '/' }) >= 0:
		return "", "", bad("it holds whitespace, '/' or a NUL byte")
	}
	for _, part := range []string{user, group} {
		if part != "" && strings.Trim(part, "0123456789") == "" {
			if n, err := strconv.ParseUint(part, 10, 32); err != nil || n == math.MaxUint32 {
				return "", "", bad(fmt.Sprintf("%s is out of range (IDs go up to 4294967294)", part))
			}
		}
	}
	return user, group, nil
}

// All is the word for "every capability" in --cap-add and --cap-drop.
const All = "ALL"

// knownCaps holds every capability name the capability library knows.
var knownCaps = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = true
	}
	return m
}()

// NormalizeCapability spells a capability as the spec does, like Docker:
// case does not matter and the CAP_ prefix is optional ("net_admin",
// "CAP_NET_ADMIN" and "Net_Admin" are CAP_NET_ADMIN); "all" is All.
func NormalizeCapability(name string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(name))
	if c == All {
		return All, nil
	}
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	if !knownCaps[c] {
		return "", fmt.Errorf("unknown capability: %q (names look like NET_ADMIN or CAP_NET_ADMIN; see capabilities(7))", name)
	}
	return c, nil
}

// TweakCapabilities applies --cap-add and --cap-drop to base, by Docker's
// rules: with ALL added, every capability in all except the dropped ones;
// with ALL dropped, only the added ones; otherwise base minus the dropped
// plus the added. all is the list that ALL means.
func TweakCapabilities(base, all, add, drop []string) ([]string, error) {
	norm := func(list []string) ([]string, error) {
		var out []string
		for _, c := range list {
			n, err := NormalizeCapability(c)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out, nil
	}
	adds, err := norm(add)
	if err != nil {
		return nil, err
	}
	drops, err := norm(drop)
	if err != nil {
		return nil, err
	}
	var out []string
	switch {
	case slices.Contains(adds, All):
		for _, c := range all {
			if !slices.Contains(drops, c) {
				out = append(out, c)
			}
		}
	case slices.Contains(drops, All):
		out = adds
	default:
		for _, c := range base {
			if !slices.Contains(drops, c) {
				out = append(out, c)
			}
		}
		for _, c := range adds {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// propagation words a -v mode may hold (mount_namespaces(7)).
var propagations = []string{"private", "rprivate", "shared", "rshared", "slave", "rslave"}

// VolumeSpec is one `-v` value taken apart, in Docker's full syntax:
//
//	/ctr                    an anonymous volume (Source empty)
//	NAME:/ctr[:MODE]        a named volume
//	/host:/ctr[:MODE]       a bind mount (a Source that starts with / or .)
//
// Lesson 03 knows only bind mounts (ParseVolume); lesson 04 adds volumes on
// the same parser.
type VolumeSpec struct {
	Source      string // "" for an anonymous volume; a volume name; or a host path as given
	Destination string // cleaned, absolute, not "/"
	Bind        bool   // Source is a host path
	ReadOnly    bool
	Propagation string // "" unless MODE names one
	NoCopy      bool   // nocopy: do not fill an empty volume from the image
}

// ParseVolumeSpec reads a `-v [SOURCE:]DEST[:MODE]` with Docker's rules: a
// SOURCE that starts with '/' or '.' is a host path, anything else names a
// volume. MODE is a comma-separated list of ro or rw, a propagation, z or Z
// (SELinux relabeling: accepted and ignored here) and, for volumes, nocopy.
func ParseVolumeSpec(s string) (VolumeSpec, error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid volume specification: '%s': %s; use -v /host/dir:/container/dir[:ro] or -v volume:/container/dir[:ro]", s, why)
	}
	if strings.ContainsRune(s, 0) {
		return VolumeSpec{}, bad("it holds a NUL byte")
	}
	// LAB 04.4 BEGIN: Docker's -v rules: [SOURCE:]DEST[:MODE], a host path or a volume name, the mode words, the errors
	var v VolumeSpec
	var mode string
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 1:
		v.Destination = parts[0]
	case 2:
		if validMode(parts[1]) {
			return VolumeSpec{}, bad(fmt.Sprintf("%q is a mode, and an anonymous volume takes none", parts[1]))
		}
		v.Source, v.Destination = parts[0], parts[1]
		if v.Source == "" {
			return VolumeSpec{}, bad("the host path is empty")
		}
	case 3:
		v.Source, v.Destination, mode = parts[0], parts[1], parts[2]
		if v.Source == "" {
			return VolumeSpec{}, bad("the host path is empty")
		}
	default:
		return VolumeSpec{}, bad("too many ':'")
	}
	v.Bind = strings.HasPrefix(v.Source, "/") || strings.HasPrefix(v.Source, ".")
	switch dst := v.Destination; {
	case dst == "":
		return VolumeSpec{}, bad("the container path is empty")
	case !filepath.IsAbs(dst):
		return VolumeSpec{}, bad(fmt.Sprintf("the container path %q must be absolute", dst))
	case filepath.Clean(dst) == "/":
		return VolumeSpec{}, bad("the container path cannot be '/'")
	}
	v.Destination = filepath.Clean(v.Destination)
	if v.Bind {
		v.Source = filepath.Clean(v.Source)
	} else if v.Source != "" && !ValidVolumeName(v.Source) {
		return VolumeSpec{}, bad(fmt.Sprintf("%q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed; if you intended to pass a host directory, use an absolute path", v.Source))
	}
	if len(parts) < 3 {
		return v, nil
	}
	var seenMode, seenProp bool
	for _, w := range strings.Split(mode, ",") {
		switch {
		case w == "ro" || w == "rw":
			if seenMode {
				return VolumeSpec{}, bad("more than one of ro and rw")
			}
			v.ReadOnly, seenMode = w == "ro", true
		case slices.Contains(propagations, w):
			if seenProp {
				return VolumeSpec{}, bad("more than one propagation mode")
			}
			v.Propagation, seenProp = w, true
		case w == "z" || w == "Z":
		case w == "nocopy":
			if v.Bind {
				return VolumeSpec{}, bad("nocopy is for volumes, not for a host directory")
			}
			if v.NoCopy {
				return VolumeSpec{}, bad("nocopy given twice")
			}
			v.NoCopy = true
		default:
			return VolumeSpec{}, bad(fmt.Sprintf("unknown mode %q (use ro, rw, a propagation such as rslave, z or Z, nocopy)", w))
		}
	}
	if v.Propagation != "" && !v.Bind {
		return VolumeSpec{}, bad("a propagation is for a host directory, not for a volume")
	}
	return v, nil
	// LAB 04.4 END
	// LAB 04.4 STUB: return VolumeSpec{}, lab.Todo("04.4")
}

// validMode reports whether every word of m is a -v mode word.
func validMode(m string) bool {
	for _, w := range strings.Split(m, ",") {
		if !(w == "ro" || w == "rw" || w == "z" || w == "Z" || w == "nocopy" || slices.Contains(propagations, w)) {
			return false
		}
	}
	return true
}

// ValidVolumeName is Docker's rule for a local volume's name:
// [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two characters at least).
func ValidVolumeName(name string) bool {
	if len(name) < 2 {
		return false
	}
	for i, r := range name {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("_.-", r)) {
			return false
		}
	}
	return true
}

// ParseVolume reads a `-v HOSTDIR:CTRDIR[:MODE]` bind mount (see
// ParseVolumeSpec; the propagation is rprivate by default, as Docker's).
// Named and anonymous volumes arrive with lesson 04: here the host side
// must be an absolute path.
func ParseVolume(s string) (specs.Mount, error) {
	v, err := ParseVolumeSpec(s)
	if err != nil {
		return specs.Mount{}, err
	}
	bad := func(why string) error {
		return fmt.Errorf("invalid volume specification: '%s': %s; use -v /host/dir:/container/dir[:ro]", s, why)
	}
	switch {
	case v.Source == "":
		return specs.Mount{}, bad("anonymous volumes come with lesson 04 (storage); give a host directory too")
	case !filepath.IsAbs(v.Source):
		return specs.Mount{}, bad(fmt.Sprintf("%q is not an absolute host path (named volumes come with lesson 04)", v.Source))
	}
	return BindMount(v), nil
}

// BindMount is the spec mount of a bind VolumeSpec.
func BindMount(v VolumeSpec) specs.Mount {
	mode, prop := "rw", "rprivate"
	if v.ReadOnly {
		mode = "ro"
	}
	if v.Propagation != "" {
		prop = v.Propagation
	}
	return specs.Mount{Destination: v.Destination, Type: "bind", Source: v.Source, Options: []string{"rbind", mode, prop}}
}

// tmpfsData are the tmpfs(5) options that take a value; the mount(8) flag
// words a --tmpfs may hold are rootfs's, less those that make a bind mount
// or a remount of it.
var tmpfsData = []string{"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol", "huge", "tmpcopyup", "noswap"}

func tmpfsFlag(w string) bool {
	return rootfs.IsMountWord(w) && w != "bind" && w != "rbind" && w != "remount"
}

// ParseTmpfs reads a `--tmpfs DIR[:OPTIONS]` mount. Like Docker, the mount
// is noexec, nosuid and nodev unless OPTIONS say otherwise (a later word
// wins: "exec" turns noexec off).
func ParseTmpfs(s string) (specs.Mount, error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid --tmpfs %q: %s; use --tmpfs /dir[:size=64m,mode=1777]", s, why)
	}
	dst, opts, hasOpts := strings.Cut(s, ":")
	switch {
	case strings.ContainsRune(s, 0):
		return specs.Mount{}, bad("it holds a NUL byte")
	case dst == "":
		return specs.Mount{}, bad("no directory")
	case !filepath.IsAbs(dst):
		return specs.Mount{}, bad("the directory must be an absolute path")
	case filepath.Clean(dst) == "/":
		return specs.Mount{}, bad("the directory cannot be '/'")
	case hasOpts && opts == "":
		return specs.Mount{}, bad("no options after ':'")
	}
	options := []string{"noexec", "nosuid", "nodev"}
	if hasOpts {
		for _, w := range strings.Split(opts, ",") {
			key, value, hasValue := strings.Cut(w, "=")
			switch {
			case !hasValue && tmpfsFlag(w):
			case hasValue && slices.Contains(tmpfsData, key) && value != "" &&
				strings.IndexFunc(value, func(r rune) bool { return unicode.IsSpace(r) || r == ',' }) < 0:
			default:
				return specs.Mount{}, bad(fmt.Sprintf("unknown option %q (tmpfs takes size=, mode=, uid=, gid=, nr_inodes= and mount flags such as ro or exec)", w))
			}
			if key == "tmpcopyup" {
				continue // Docker's word for copying the image's files in; nothing to copy here
			}
			options = append(options, w)
		}
	}
	return specs.Mount{Destination: filepath.Clean(dst), Type: "tmpfs", Source: "tmpfs", Options: options}, nil
}

// ulimitNames are Docker's --ulimit names and the rlimits they set.
var ulimitNames = map[string]string{
	"core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
	"locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
	"nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
	"rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
	"stack": "RLIMIT_STACK",
}

// Unlimited is RLIM_INFINITY, what -1 means in a --ulimit.
const Unlimited = math.MaxUint64

// ParseUlimit reads `--ulimit NAME=SOFT[:HARD]` as Docker does (HARD is
// SOFT when left out; -1 is unlimited). The name is one of core, cpu, data,
// fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio,
// rttime, sigpending, stack.
func ParseUlimit(s string) (specs.POSIXRlimit, error) {
	name, values, ok := strings.Cut(s, "=")
	if !ok {
		return specs.POSIXRlimit{}, fmt.Errorf("invalid ulimit %q: use NAME=SOFT[:HARD], e.g. --ulimit nofile=1024:2048", s)
	}
	typ, known := ulimitNames[name]
	if !known {
		names := make([]string, 0, len(ulimitNames))
		for n := range ulimitNames {
			names = append(names, n)
		}
		slices.Sort(names)
		return specs.POSIXRlimit{}, fmt.Errorf("invalid ulimit %q: unknown name %q (use one of %s)", s, name, strings.Join(names, ", "))
	}
	num := func(v string) (uint64, error) {
		if v == "-1" {
			return Unlimited, nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == Unlimited {
			return 0, fmt.Errorf("invalid ulimit %q: %q is not a limit (a number, or -1 for unlimited)", s, v)
		}
		return n, nil
	}
	parts := strings.Split(values, ":")
	if len(parts) > 2 {
		return specs.POSIXRlimit{}, fmt.Errorf("invalid ulimit %q: at most two values, SOFT[:HARD]", s)
	}
	soft, err := num(parts[0])
	if err != nil {
		return specs.POSIXRlimit{}, err
	}
	hard := soft
	if len(parts) == 2 {
		if hard, err = num(parts[1]); err != nil {
			return specs.POSIXRlimit{}, err
		}
	}
	if soft > hard {
		return specs.POSIXRlimit{}, fmt.Errorf("invalid ulimit %q: the soft limit %s is above the hard limit %s", s, limitString(soft), limitString(hard))
	}
	return specs.POSIXRlimit{Type: typ, Soft: soft, Hard: hard}, nil
}

func limitString(n uint64) string {
	if n == Unlimited {
		return "unlimited"
	}
	return strconv.FormatUint(n, 10)
}

// Security is what the --security-opt values say.
type Security struct {
	NoNewPrivileges bool
	// Seccomp is "" for the default profile, "unconfined", or the path of
	// a profile file as given.
	Seccomp string
	// SystemPaths is "unconfined" to keep /proc and /sys unmasked.
	SystemPaths string
}

// ParseSecurityOpt reads one --security-opt into sec, as Docker does:
// "no-new-privileges" (alone, or =true/=false), "seccomp=unconfined" or
// "seccomp=PROFILE.json", "systempaths=unconfined". The old "KEY:VALUE"
// spelling is accepted too. AppArmor and SELinux labels are not supported.
func ParseSecurityOpt(s string, sec *Security) error {
	if s == "no-new-privileges" {
		sec.NoNewPrivileges = true
		return nil
	}
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		key, value, ok = strings.Cut(s, ":")
	}
	if !ok {
		return fmt.Errorf("invalid --security-opt %q: use no-new-privileges[=true|false], seccomp=unconfined|PROFILE.json or systempaths=unconfined", s)
	}
	switch key {
	case "no-new-privileges":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("invalid --security-opt %q: no-new-privileges takes true or false", s)
		}
		sec.NoNewPrivileges = b
	case "seccomp":
		if value == "" || strings.ContainsRune(value, 0) {
			return fmt.Errorf("invalid --security-opt %q: seccomp takes unconfined or the path of a profile", s)
		}
		sec.Seccomp = value
	case "systempaths":
		if value != "unconfined" {
			return fmt.Errorf("invalid --security-opt %q: systempaths takes only unconfined", s)
		}
		sec.SystemPaths = value
	case "apparmor", "label":
		return fmt.Errorf("invalid --security-opt %q: %s is not supported by minibox (no AppArmor or SELinux here)", s, key)
	default:
		return fmt.Errorf("invalid --security-opt %q: unknown option %q (use no-new-privileges, seccomp or systempaths)", s, key)
	}
	return nil
}
