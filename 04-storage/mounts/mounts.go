package mounts

import (
	"encoding/csv"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"minibox/03-rootfs/runflags"
	"minibox/04-storage/engine"
)

// ParseVolume reads one -v value into the Mount it means: a bind mount
// (Source a host path made absolute), a named volume (Source its name) or
// an anonymous volume (Source empty).
func ParseVolume(s string) (engine.Mount, error) {
	v, err := runflags.ParseVolumeSpec(s)
	if err != nil {
		return engine.Mount{}, err
	}
	m := engine.Mount{Type: "volume", Source: v.Source, Target: v.Destination, ReadOnly: v.ReadOnly, VolumeNoCopy: v.NoCopy}
	if v.Bind {
		abs, err := filepath.Abs(v.Source) // Docker's CLI turns ./x into an absolute path
		if err != nil {
			return engine.Mount{}, fmt.Errorf("invalid volume specification: '%s': %w", s, err)
		}
		m.Type, m.Source, m.BindPropagation = "bind", abs, v.Propagation
	}
	return m, nil
}

// propagations are bind-propagation's values (mount_namespaces(7)).
var propagations = []string{"private", "rprivate", "shared", "rshared", "slave", "rslave"}

// ParseMount reads one --mount value: comma-separated key=value fields (a
// CSV line, so a field may be quoted), with Docker's keys type,
// source/src, destination/dst/target, readonly/ro, volume-nocopy,
// bind-propagation, tmpfs-size and tmpfs-mode. An unknown key is an error.
func ParseMount(s string) (engine.Mount, error) {
	r := csv.NewReader(strings.NewReader(s))
	fields, err := r.Read()
	if err != nil {
		return engine.Mount{}, fmt.Errorf("invalid argument %q for \"--mount\" flag: %w", s, err)
	}
	m := engine.Mount{Type: "volume"}
	bad := func(f string, a ...any) error {
		return fmt.Errorf("invalid argument %q for \"--mount\" flag: %s", s, fmt.Sprintf(f, a...))
	}
	var sawNoCopy, sawProp, sawSize, sawMode bool
	for _, field := range fields {
		key, value, hasValue := strings.Cut(field, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		boolean := func() (bool, error) {
			if !hasValue {
				return true, nil // a bare "readonly" means true
			}
			switch strings.ToLower(value) {
			case "1", "true":
				return true, nil
			case "0", "false":
				return false, nil
			}
			return false, bad("invalid value for %s: %s", key, value)
		}
		if !hasValue && key != "readonly" && key != "ro" && key != "volume-nocopy" {
			return engine.Mount{}, bad("invalid field '%s' must be a key=value pair", field)
		}
		switch key {
		case "type":
			if !slices.Contains([]string{"bind", "volume", "tmpfs"}, value) {
				return engine.Mount{}, bad("invalid mount type: %q (use bind, volume or tmpfs)", value)
			}
			m.Type = value
		case "source", "src":
			m.Source = value
		case "destination", "dst", "target":
			m.Target = value
		case "readonly", "ro":
			if m.ReadOnly, err = boolean(); err != nil {
				return engine.Mount{}, err
			}
		case "volume-nocopy":
			if m.VolumeNoCopy, err = boolean(); err != nil {
				return engine.Mount{}, err
			}
			sawNoCopy = true
		case "bind-propagation":
			if !slices.Contains(propagations, value) {
				return engine.Mount{}, bad("invalid bind propagation %q (use one of %s)", value, strings.Join(propagations, ", "))
			}
			m.BindPropagation, sawProp = value, true
		case "tmpfs-size":
			n, err := ParseSize(value)
			if err != nil {
				return engine.Mount{}, bad("invalid value for %s: %s", key, value)
			}
			m.TmpfsSize, sawSize = n, true
		case "tmpfs-mode":
			n, err := strconv.ParseUint(value, 8, 32)
			if err != nil || n > 0o7777 {
				return engine.Mount{}, bad("invalid value for %s: %s", key, value)
			}
			m.TmpfsMode, sawMode = uint32(n), true
		case "bind-nonrecursive", "consistency", "volume-driver", "volume-label", "volume-opt", "volume-subpath":
			return engine.Mount{}, bad("%s is not supported by minibox", key)
		default:
			return engine.Mount{}, bad("unexpected key '%s' in '%s'", key, field)
		}
	}
	switch {
	case m.Target == "":
		return engine.Mount{}, bad("target is required")
	case !filepath.IsAbs(m.Target):
		return engine.Mount{}, bad("invalid mount path: '%s' mount path must be absolute", m.Target)
	case filepath.Clean(m.Target) == "/":
		return engine.Mount{}, bad("invalid specification: destination can't be '/'")
	case strings.ContainsRune(m.Target+m.Source, 0):
		return engine.Mount{}, bad("it holds a NUL byte")
	}
	m.Target = filepath.Clean(m.Target)
	if m.Type != "volume" && sawNoCopy {
		return engine.Mount{}, bad("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	}
	if m.Type != "bind" && sawProp {
		return engine.Mount{}, bad("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	}
	if m.Type != "tmpfs" && (sawSize || sawMode) {
		return engine.Mount{}, bad("cannot mix 'tmpfs-*' options with mount type '%s'", m.Type)
	}
	switch m.Type {
	case "bind":
		if m.Source == "" {
			return engine.Mount{}, bad("source is required when specifying bind mounts")
		}
		if !filepath.IsAbs(m.Source) {
			return engine.Mount{}, bad("invalid mount path: '%s' mount path must be absolute", m.Source)
		}
		m.Source = filepath.Clean(m.Source)
		m.BindNoCreate = true // --mount never creates a missing host directory
	case "volume":
		if m.Source != "" && !runflags.ValidVolumeName(m.Source) {
			return engine.Mount{}, bad("%q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed", m.Source)
		}
	case "tmpfs":
		if m.Source != "" {
			return engine.Mount{}, bad("invalid mount config for type \"tmpfs\": field Source must not be specified")
		}
	}
	return m, nil
}

// ParseSize reads a size as Docker's CLI does: a number with an optional
// unit b, k, m, g (powers of 1024; "kb", "mib" and such are accepted too).
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size: %q", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}
	m, ok := mult[unit]
	if !ok || f*m > 1<<62 {
		return 0, fmt.Errorf("invalid size: %q", s)
	}
	return int64(f * m), nil
}

// ParseTmpfs reads one --tmpfs value (lesson 03's syntax, runflags.ParseTmpfs)
// into HostConfig.Tmpfs's key and value: the path and its options.
func ParseTmpfs(s string) (path, options string, err error) {
	m, err := runflags.ParseTmpfs(s)
	if err != nil {
		return "", "", err
	}
	_, options, _ = strings.Cut(s, ":")
	return m.Destination, options, nil
}

// ParseVolumesFrom reads one --volumes-from CONTAINER[:ro|rw]; mode is ""
// when none is given (each mount keeps its own).
func ParseVolumesFrom(s string) (container, mode string, err error) {
	container, mode, _ = strings.Cut(s, ":")
	switch {
	case container == "":
		return "", "", fmt.Errorf("invalid --volumes-from %q: no container", s)
	case mode != "" && mode != "ro" && mode != "rw":
		return "", "", fmt.Errorf("invalid mode: %s", mode)
	case strings.ContainsAny(container, ":/\x00"):
		return "", "", fmt.Errorf("invalid --volumes-from %q: not a container name or ID", s)
	}
	return container, mode, nil
}

// Flags are the storage flags of `run` and `create`, as given.
type Flags struct {
	Volumes     []string // -v, --volume
	Mounts      []string // --mount
	Tmpfs       []string // --tmpfs
	VolumesFrom []string // --volumes-from
}

// Apply checks the flags and fills hc: Binds (the -v values as given, as
// Docker keeps them), Mounts (the parsed --mount values), Tmpfs and
// VolumesFrom. Two mounts on one destination are an error (Docker's
// "Duplicate mount point"); mounts from --volumes-from are checked when the
// container is created, where they may yield to these.
func (f Flags) Apply(hc *engine.HostConfig) error {
	var all []engine.Mount
	for _, v := range f.Volumes {
		m, err := ParseVolume(v)
		if err != nil {
			return err
		}
		all = append(all, m)
	}
	var mounts []engine.Mount
	for _, s := range f.Mounts {
		m, err := ParseMount(s)
		if err != nil {
			return err
		}
		mounts = append(mounts, m)
		all = append(all, m)
	}
	var tmpfs map[string]string
	for _, s := range f.Tmpfs {
		p, o, err := ParseTmpfs(s)
		if err != nil {
			return err
		}
		if tmpfs == nil {
			tmpfs = map[string]string{}
		}
		if _, dup := tmpfs[p]; dup {
			return DuplicateError(p)
		}
		tmpfs[p] = o
		all = append(all, engine.Mount{Type: "tmpfs", Target: p})
	}
	if err := CheckDuplicates(all); err != nil {
		return err
	}
	for _, s := range f.VolumesFrom {
		if _, _, err := ParseVolumesFrom(s); err != nil {
			return err
		}
	}
	hc.Binds = append([]string(nil), f.Volumes...)
	hc.Mounts = mounts
	hc.Tmpfs = tmpfs
	hc.VolumesFrom = append([]string(nil), f.VolumesFrom...)
	return nil
}

// DuplicateError is Docker's error for two mounts on one destination.
func DuplicateError(target string) error {
	return fmt.Errorf("Duplicate mount point: %s", target) //nolint:staticcheck // Docker's capital
}

// CheckDuplicates refuses two mounts with one target.
func CheckDuplicates(ms []engine.Mount) error {
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.Target] {
			return DuplicateError(m.Target)
		}
		seen[m.Target] = true
	}
	return nil
}
