package rootfs

import (
	"fmt"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Root's power is split into about forty capabilities (capabilities(7)).
// A process holds five sets of them:
//
//   - bounding: the most any later execve(2) can give; it only shrinks;
//   - permitted: what the thread may turn on;
//   - effective: what the kernel checks right now;
//   - inheritable and ambient: what passes through execve(2), the ambient
//     set even into a program without file capabilities run by a non-root
//     user.
//
// At execve(2) a root process gets its bounding set (plus inheritable) as
// permitted and effective; a non-root one gets only its ambient set. That is
// why Docker's default, with the same list as bounding, effective and
// permitted and no ambient set, gives root in the container exactly that
// list and a non-root user nothing.

// capByName maps "CAP_NET_ADMIN" to the library's value.
var capByName = func() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		m[capName(c)] = c
	}
	return m
}()

// capName spells a capability as the spec does: CAP_NET_ADMIN.
func capName(c capability.Cap) string { return "CAP_" + strings.ToUpper(c.String()) }

// AllCapabilities returns every capability in this process's bounding set,
// as `docker run --privileged` grants them. It is not every capability the
// kernel knows: a runtime that is itself confined (here the bounding set
// lacks CAP_SYS_RESOURCE) cannot give what it does not hold, and asking for
// it would fail the container's start.
func AllCapabilities() []string {
	var out []string
	supported, err := capability.ListSupported()
	if err != nil {
		supported = capability.ListKnown()
	}
	for _, c := range supported {
		if ok, err := capability.GetBound(c); err == nil && ok {
			out = append(out, capName(c))
		}
	}
	return out
}

// capSets are the five capability sets as bit masks: bit n is capability
// number n (CAP_CHOWN is 0, CAP_NET_ADMIN 12, CAP_SYS_ADMIN 21; see
// capabilities(7) and the Cap* lines of /proc/self/status, which print
// these masks in hex).
type capSets struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// wantSets computes the sets that the spec's five lists ask for, as runc
// does. byName turns a spec name ("CAP_NET_ADMIN") into its number; last is
// the highest capability this kernel knows; held reports whether the
// runtime's own bounding set holds a capability. The rules:
//
//   - a name byName does not know is an error that names it;
//   - a known capability above last is skipped (the spec was written for a
//     newer kernel);
//   - a capability the runtime does not hold cannot be given: an error that
//     names it and its set;
//   - the kernel keeps a capability in the ambient set only while it is also
//     permitted and inheritable (raising one that is not fails with EPERM).
//     `runc spec` lists ambient capabilities but no inheritable ones, so,
//     like runc, leave such ones out of the ambient set.
func wantSets(lc *specs.LinuxCapabilities, byName func(string) (capability.Cap, bool), last capability.Cap, held func(capability.Cap) bool) (capSets, error) {
	// LAB 03.4 BEGIN: the five sets as bit masks from the spec's names
	var sets capSets
	for _, set := range []struct {
		which capability.CapType
		names []string
		mask  *uint64
	}{
		{capability.BOUNDING, lc.Bounding, &sets.Bounding},
		{capability.EFFECTIVE, lc.Effective, &sets.Effective},
		{capability.PERMITTED, lc.Permitted, &sets.Permitted},
		{capability.INHERITABLE, lc.Inheritable, &sets.Inheritable},
		{capability.AMBIENT, lc.Ambient, &sets.Ambient},
	} {
		for _, name := range set.names {
			cp, ok := byName(name)
			if !ok {
				return capSets{}, fmt.Errorf("rootfs: unknown capability %q (names look like CAP_NET_ADMIN)", name)
			}
			if cp > last {
				continue
			}
			if !held(cp) {
				return capSets{}, fmt.Errorf("rootfs: capability %s (%s set) is not in the runtime's own bounding set, so it cannot be given (see CapBnd in /proc/self/status; AllCapabilities lists what can)", name, set.which)
			}
			*set.mask |= 1 << uint(cp)
		}
	}
	sets.Ambient &= sets.Permitted & sets.Inheritable
	return sets, nil
	// LAB 03.4 END
	// LAB 03.4 STUB: lab.Warn("03.4") // no sets computed: with applyCaps's stub, root keeps every capability it has
	// LAB 03.4 STUB: return capSets{}, nil
}

// capsFor turns the spec's capability lists into the library's sets, for
// this thread (see wantSets for the rules).
func capsFor(lc *specs.LinuxCapabilities) (capability.Capabilities, error) {
	c, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("rootfs: capabilities: %w", err)
	}
	last, err := capability.LastCap()
	if err != nil {
		return nil, fmt.Errorf("rootfs: capabilities: %w", err)
	}
	byName := func(name string) (capability.Cap, bool) {
		cp, ok := capByName[name]
		return cp, ok
	}
	held := func(cp capability.Cap) bool {
		ok, err := capability.GetBound(cp)
		return err != nil || ok // unknown: let the kernel decide
	}
	sets, err := wantSets(lc, byName, last, held)
	if err != nil {
		return nil, err
	}
	c.Clear(capability.BOUNDING | capability.CAPS | capability.AMBIENT)
	for _, set := range []struct {
		which capability.CapType
		mask  uint64
	}{
		{capability.BOUNDING, sets.Bounding},
		{capability.EFFECTIVE, sets.Effective},
		{capability.PERMITTED, sets.Permitted},
		{capability.INHERITABLE, sets.Inheritable},
		{capability.AMBIENT, sets.Ambient},
	} {
		for cp := capability.Cap(0); cp <= last && cp < 64; cp++ {
			if set.mask&(1<<uint(cp)) != 0 {
				c.Set(set.which, cp)
			}
		}
	}
	return c, nil
}

// applyCaps makes the kernel's capability sets of this thread what caps
// says, for the sets in which: the bounding set (BOUNDS: dropped one by one
// with prctl(PR_CAPBSET_DROP), for good), or the effective, permitted and
// inheritable sets (CAPS: one capset(2) call) and the ambient set (AMBS:
// prctl(PR_CAP_AMBIENT)). See capabilities(7).
func applyCaps(caps capability.Capabilities, which capability.CapType) error {
	// LAB 03.4 BEGIN: apply the capability sets to this thread
	return caps.Apply(which)
	// LAB 03.4 END
	// LAB 03.4 STUB: lab.Warn("03.4") // root keeps every capability it has
	// LAB 03.4 STUB: return nil
}
