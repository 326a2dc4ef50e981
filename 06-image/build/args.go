package build

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// ParseBuildArgs reads `--build-arg KEY=VALUE` flags as Docker does: a
// KEY alone takes its value from the caller's environment (lookup, e.g.
// os.LookupEnv) and, when that has none, stays declared with no value, so
// the Dockerfile's default applies. The last flag for a key wins.
func ParseBuildArgs(flags []string, lookup func(string) (string, bool)) (map[string]*string, error) {
	out := map[string]*string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if err := validKey(k); err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"--build-arg\" flag: %w", f, err)
		}
		switch {
		case ok:
			out[k] = &v
		case lookup != nil:
			if v, found := lookup(k); found {
				out[k] = &v
				continue
			}
			out[k] = nil
		default:
			out[k] = nil
		}
	}
	return out, nil
}

// ParseLabels reads `--label KEY=VALUE` flags: a KEY alone is an empty
// label, as Docker's.
func ParseLabels(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		k, v, _ := strings.Cut(f, "=")
		if err := validKey(k); err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"--label\" flag: %w", f, err)
		}
		out[k] = v
	}
	return out, nil
}

// validKey refuses what no environment variable or label can be named.
func validKey(k string) error {
	switch {
	case k == "":
		return fmt.Errorf("the key is empty")
	case strings.ContainsAny(k, " \t\r\n\x00"):
		return fmt.Errorf("the key %q contains white space or NUL", k)
	}
	return nil
}

// args is the build arguments' state of one build: what --build-arg gave,
// the ARGs before the first FROM (meta args: visible in FROM lines only,
// unless a stage declares them again) and which keys any ARG declared, so
// that unused --build-args can be reported.
type args struct {
	given      map[string]*string
	meta       map[string]*string
	metaOrder  []string
	referenced map[string]bool
	predefined map[string]bool
}

func newArgs(given map[string]*string, predefined []string) *args {
	a := &args{given: given, meta: map[string]*string{}, referenced: map[string]bool{}, predefined: map[string]bool{}}
	for _, p := range predefined {
		a.predefined[p] = true
	}
	return a
}

// value is the value of an ARG declared with def: --build-arg wins, then
// the ARG's own default, then (for a redeclared meta arg) the meta arg's.
func (a *args) value(key string, def *string) *string {
	if v, ok := a.given[key]; ok && v != nil {
		return v
	}
	if def != nil {
		return def
	}
	if v := a.meta[key]; v != nil {
		return v
	}
	return nil
}

// addMeta declares an ARG before the first FROM.
func (a *args) addMeta(key string, def *string) {
	a.referenced[key] = true
	if !slices.Contains(a.metaOrder, key) {
		a.metaOrder = append(a.metaOrder, key)
	}
	a.meta[key] = def
	if v := a.value(key, def); v != nil {
		a.meta[key] = v
	}
}

// metaEnv is what a FROM line expands with.
func (a *args) metaEnv() []string {
	var env []string
	for _, k := range a.metaOrder {
		if v := a.meta[k]; v != nil {
			env = append(env, k+"="+*v)
		}
	}
	return env
}

// unused lists the --build-args that no ARG declared (predefined proxy
// variables excepted: they are always allowed), sorted.
func (a *args) unused() []string {
	var out []string
	for k := range a.given {
		if !a.referenced[k] && !a.predefined[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// scope is the ARGs one stage declared, in order, with their values.
type scope struct {
	order []string
	vals  map[string]*string
}

func (s *scope) declare(key string, v *string) {
	if s.vals == nil {
		s.vals = map[string]*string{}
	}
	if _, ok := s.vals[key]; !ok {
		s.order = append(s.order, key)
	}
	s.vals[key] = v
}

// inScope returns the build arguments a RUN sees, as KEY=VALUE: the
// stage's declared ARGs that have a value, then the predefined proxy
// variables given with --build-arg, minus every key that the config's
// env sets (ENV wins over ARG). declared is the first part alone: only
// those go into RUN's history line (Docker's `|N K=V` prefix).
func (s *scope) inScope(a *args, env []string) (all, declared []string) {
	set := map[string]bool{}
	for _, e := range env {
		k, _, _ := cutEq(e)
		set[k] = true
	}
	for _, k := range s.order {
		if v := s.vals[k]; v != nil && !set[k] {
			declared = append(declared, k+"="+*v)
		}
	}
	all = slices.Clone(declared)
	var pre []string
	for k, v := range a.given {
		if _, decl := s.vals[k]; a.predefined[k] && !decl && v != nil && !set[k] {
			pre = append(pre, k+"="+*v)
		}
	}
	sort.Strings(pre)
	return append(all, pre...), declared
}
