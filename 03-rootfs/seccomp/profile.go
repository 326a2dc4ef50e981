package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"minibox/03-rootfs/caps"
)

// Profile is a seccomp profile in Docker's JSON format (the format of
// moby's profiles/seccomp/default.json and of `docker run --security-opt
// seccomp=FILE`). It is a superset of the OCI LinuxSeccomp: its rules may
// depend on the architecture, the container's capabilities and the kernel
// version, which Resolve settles for one container.
type Profile struct {
	DefaultAction    specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet  *uint                    `json:"defaultErrnoRet,omitempty"`
	Architectures    []specs.Arch             `json:"architectures,omitempty"`
	ArchMap          []ArchMap                `json:"archMap,omitempty"`
	ListenerPath     string                   `json:"listenerPath,omitempty"`
	ListenerMetadata string                   `json:"listenerMetadata,omitempty"`
	Flags            []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	Syscalls         []Syscall                `json:"syscalls"`
}

// ArchMap lists, for a native architecture, the others its kernel also
// runs (x86_64 also runs i386 and x32 programs).
type ArchMap struct {
	Arch      specs.Arch   `json:"architecture"`
	SubArches []specs.Arch `json:"subArchitectures"`
}

// Syscall is one rule: what to do with these calls, optionally only when
// their arguments match, and only for some architectures, capabilities or
// kernels.
type Syscall struct {
	Name     string                   `json:"name,omitempty"` // the old, single-name form
	Names    []string                 `json:"names,omitempty"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet *uint                    `json:"errnoRet,omitempty"`
	Args     []specs.LinuxSeccompArg  `json:"args,omitempty"`
	Comment  string                   `json:"comment,omitempty"`
	Includes *Filter                  `json:"includes,omitempty"`
	Excludes *Filter                  `json:"excludes,omitempty"`
}

// Filter says when a rule applies. In Includes every condition must hold
// (all caps held, the architecture listed, the kernel at least MinKernel);
// in Excludes any one of them drops the rule.
type Filter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

// Env is what a profile is resolved against: the architecture (a GOARCH
// name such as "amd64", as Docker's profiles spell it), the capabilities the
// container will hold and the kernel version.
type Env struct {
	Arch   string
	Caps   []string
	Kernel [2]int // major, minor
}

// HostEnv is the Env of a container on this machine that holds caps.
func HostEnv(caps []string) Env {
	return Env{Arch: runtime.GOARCH, Caps: caps, Kernel: kernelVersion()}
}

// DockerDefaultCapabilities is the capability set Docker gives a container
// without --cap-add/--cap-drop (caps.Default, the one list that rootfs uses
// too). Default and Load resolve the profile's capability rules against it.
func DockerDefaultCapabilities() []string { return caps.Default() }

// Load reads a Docker-format profile from path and resolves it for a
// container on this host with Docker's default capabilities. Use LoadFor
// when the container's capabilities differ (--cap-add, --privileged).
func Load(path string) (*specs.LinuxSeccomp, error) {
	return LoadFor(path, DockerDefaultCapabilities())
}

// LoadFor is Load for a container that holds caps (its bounding set).
func LoadFor(path string, caps []string) (*specs.LinuxSeccomp, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seccomp: read profile: %w", err)
	}
	p, err := Parse(data) // decodes and checks it
	if err != nil {
		return nil, fmt.Errorf("seccomp: profile %s: %w", path, err)
	}
	return p.resolve(HostEnv(caps)), nil
}

// Parse decodes and checks a Docker-format profile. Errors say where in
// the document the problem is: "line 3, column 7" for bad JSON,
// `syscalls[4] ("mkdir")` for a bad rule.
func Parse(data []byte) (*Profile, error) {
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, jsonError(data, err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// jsonError turns an encoding/json error into one that names the line and
// column of the problem.
func jsonError(data []byte, err error) error {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
		if typ.Field != "" {
			err = fmt.Errorf("field %s: cannot use a JSON %s as %s", typ.Field, typ.Value, typ.Type)
		}
	}
	if off < 0 || off > int64(len(data)) {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Errorf("not valid JSON at line %d, column %d: %w", line, col, err)
}

// Actions are the actions a profile may name, as in the OCI spec.
var actions = []specs.LinuxSeccompAction{
	specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
	specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify,
}

// ops are the comparisons an argument condition may name.
var ops = []specs.LinuxSeccompOperator{
	specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
	specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
}

// arches are the architecture names libseccomp (and so the OCI spec) knows.
var arches = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
	specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
	specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
	specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
}

// maxErrno is the largest errno the kernel returns from a filter
// (MAX_ERRNO in include/linux/err.h); larger values are clamped to it.
const maxErrno = 4095

// Validate checks what Docker checks, and a little more, so that a typo in
// a profile fails the container's start instead of weakening its filter.
func (p *Profile) Validate() error {
	if p.DefaultAction == "" {
		return errors.New(`"defaultAction" is missing (Docker's default profile uses "SCMP_ACT_ERRNO")`)
	}
	if err := checkAction(p.DefaultAction, p.DefaultErrnoRet); err != nil {
		return fmt.Errorf("defaultAction: %w", err)
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return errors.New(`both "architectures" and "archMap" are given: use one`)
	}
	for _, a := range p.Architectures {
		if !slices.Contains(arches, a) {
			return fmt.Errorf("architectures: unknown architecture %q (names look like %q)", a, specs.ArchX86_64)
		}
	}
	for i, m := range p.ArchMap {
		for _, a := range append([]specs.Arch{m.Arch}, m.SubArches...) {
			if !slices.Contains(arches, a) {
				return fmt.Errorf("archMap[%d]: unknown architecture %q (names look like %q)", i, a, specs.ArchX86_64)
			}
		}
	}
	for _, f := range p.Flags {
		if !strings.HasPrefix(string(f), "SECCOMP_FILTER_FLAG_") {
			return fmt.Errorf("flags: unknown flag %q (names look like SECCOMP_FILTER_FLAG_LOG)", f)
		}
	}
	for i, sc := range p.Syscalls {
		if err := sc.validate(); err != nil {
			return fmt.Errorf("syscalls[%d]%s: %w", i, sc.label(), err)
		}
	}
	return nil
}

// label names a rule in errors by its first syscall.
func (sc Syscall) label() string {
	switch {
	case sc.Name != "":
		return fmt.Sprintf(" (%q)", sc.Name)
	case len(sc.Names) > 0:
		return fmt.Sprintf(" (%q)", sc.Names[0])
	}
	return ""
}

func (sc Syscall) validate() error {
	if sc.Name != "" && len(sc.Names) > 0 {
		return errors.New(`both "name" and "names" are given: use "names"`)
	}
	if sc.Name == "" && len(sc.Names) == 0 {
		return errors.New(`no syscall names: give "names": ["..."]`)
	}
	names := sc.Names
	if sc.Name != "" {
		names = []string{sc.Name}
	}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, " \t\n") {
			return fmt.Errorf("bad syscall name %q", n)
		}
	}
	if sc.Action == "" {
		return errors.New(`"action" is missing`)
	}
	if err := checkAction(sc.Action, sc.ErrnoRet); err != nil {
		return err
	}
	if len(sc.Args) > 6 {
		return fmt.Errorf("%d argument conditions, but a system call has at most 6 arguments", len(sc.Args))
	}
	for j, a := range sc.Args {
		if a.Index > 5 {
			return fmt.Errorf("args[%d]: index %d: a system call's arguments are numbered 0 to 5", j, a.Index)
		}
		if !slices.Contains(ops, a.Op) {
			return fmt.Errorf("args[%d]: unknown op %q (want one of %s)", j, a.Op, joinOps())
		}
	}
	for _, f := range []*Filter{sc.Includes, sc.Excludes} {
		if f == nil || f.MinKernel == "" {
			continue
		}
		if _, err := parseKernel(f.MinKernel); err != nil {
			return err
		}
	}
	return nil
}

func joinOps() string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

func checkAction(a specs.LinuxSeccompAction, errnoRet *uint) error {
	if !slices.Contains(actions, a) {
		return fmt.Errorf("unknown action %q (names look like SCMP_ACT_ALLOW, SCMP_ACT_ERRNO)", a)
	}
	if errnoRet != nil {
		if a != specs.ActErrno && a != specs.ActTrace {
			return fmt.Errorf("errnoRet %d is only meaningful with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not %s", *errnoRet, a)
		}
		if *errnoRet > maxErrno {
			return fmt.Errorf("errnoRet %d is not an errno (at most %d)", *errnoRet, maxErrno)
		}
	}
	return nil
}

// parseKernel reads "4.8" or "5.10.3" as a major and minor version.
func parseKernel(s string) ([2]int, error) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, fmt.Errorf("minKernel %q: want a version like \"4.8\"", s)
	}
	var v [2]int
	for i := range v {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return [2]int{}, fmt.Errorf("minKernel %q: want a version like \"4.8\"", s)
		}
		v[i] = n
	}
	return v, nil
}

// nativeArch maps a GOARCH to libseccomp's name for it.
var nativeArch = map[string]specs.Arch{
	"386": specs.ArchX86, "amd64": specs.ArchX86_64, "arm": specs.ArchARM,
	"arm64": specs.ArchAARCH64, "mips": specs.ArchMIPS, "mipsle": specs.ArchMIPSEL,
	"mips64": specs.ArchMIPS64, "mips64le": specs.ArchMIPSEL64, "ppc64": specs.ArchPPC64,
	"ppc64le": specs.ArchPPC64LE, "s390x": specs.ArchS390X, "riscv64": specs.ArchRISCV64,
	"loong64": specs.ArchLOONGARCH64,
}

// Resolve settles the profile for one container, as Docker does when it
// creates it: rules whose includes do not hold, or whose excludes do, are
// dropped, and archMap becomes the list for the native architecture. The
// result is the OCI form that runtimes (and Apply) read. It checks the
// profile first (Validate): one built in Go has not been through Parse.
func (p *Profile) Resolve(env Env) (*specs.LinuxSeccomp, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p.resolve(env), nil
}

// resolve is Resolve for a profile already checked (by Parse).
func (p *Profile) resolve(env Env) *specs.LinuxSeccomp {
	s := &specs.LinuxSeccomp{
		DefaultAction:    p.DefaultAction,
		DefaultErrnoRet:  p.DefaultErrnoRet,
		Architectures:    slices.Clone(p.Architectures),
		ListenerPath:     p.ListenerPath,
		ListenerMetadata: p.ListenerMetadata,
		Flags:            slices.Clone(p.Flags),
	}
	if native, ok := nativeArch[env.Arch]; ok {
		for _, m := range p.ArchMap {
			if m.Arch == native {
				s.Architectures = append([]specs.Arch{m.Arch}, m.SubArches...)
			}
		}
	}
	for _, sc := range p.Syscalls {
		if !sc.applies(env) {
			continue
		}
		names := sc.Names
		if sc.Name != "" {
			names = []string{sc.Name}
		}
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
			Names:    slices.Clone(names),
			Action:   sc.Action,
			ErrnoRet: sc.ErrnoRet,
			Args:     slices.Clone(sc.Args),
		})
	}
	return s
}

// applies reports whether a rule is part of the profile for env, with
// Docker's logic: any exclude drops it; every include must hold.
func (sc Syscall) applies(env Env) bool {
	archIs := func(list []string) bool {
		for _, a := range list {
			// Docker's profiles say "amd64"; accept libseccomp's "x86_64" too.
			if a == env.Arch || nativeArch[env.Arch] == specs.Arch("SCMP_ARCH_"+strings.ToUpper(a)) {
				return true
			}
		}
		return false
	}
	kernelAtLeast := func(s string) bool {
		v, err := parseKernel(s)
		if err != nil {
			return false
		}
		return env.Kernel[0] > v[0] || (env.Kernel[0] == v[0] && env.Kernel[1] >= v[1])
	}
	if e := sc.Excludes; e != nil {
		if archIs(e.Arches) {
			return false
		}
		for _, c := range e.Caps {
			if slices.Contains(env.Caps, c) {
				return false
			}
		}
		if e.MinKernel != "" && kernelAtLeast(e.MinKernel) {
			return false
		}
	}
	if in := sc.Includes; in != nil {
		if len(in.Arches) > 0 && !archIs(in.Arches) {
			return false
		}
		for _, c := range in.Caps {
			if !slices.Contains(env.Caps, c) {
				return false
			}
		}
		if in.MinKernel != "" && !kernelAtLeast(in.MinKernel) {
			return false
		}
	}
	return true
}
