// Package graph orders a compose project's services by their depends_on:
// a service starts after the services it depends on, and stops before
// them. compose does the same walk (its dependencies.go visits the graph
// from the leaves); a cycle makes the project impossible to start, and is
// named in the error.
package graph

import (
	"sort"
	"strings"
)

// CycleError is a dependency cycle: Path starts and ends at the same
// service (a -> b -> a).
type CycleError struct {
	Path []string
}

func (e *CycleError) Error() string {
	return "dependency cycle detected: " + strings.Join(e.Path, " -> ")
}

// Order returns the services of deps (service -> the services it depends
// on) so that every service comes after its dependencies; services that
// do not depend on each other come in name order. A dependency that is
// not a key of deps is ignored (compose checks those when it loads the
// file). A cycle is a *CycleError.
func Order(deps map[string][]string) ([]string, error) {
	// LAB 07.1 BEGIN: dependencies first, ties by name, a cycle named
	// Kahn's walk: at each step, of the services whose dependencies are
	// all placed, take the first by name.
	names := make([]string, 0, len(deps))
	for s := range deps {
		names = append(names, s)
	}
	sort.Strings(names)
	placed := make(map[string]bool, len(deps))
	ready := func(s string) bool {
		for _, d := range deps[s] {
			// (a service that depends on itself is never ready: a cycle)
			if _, known := deps[d]; known && (!placed[d] || d == s) {
				return false
			}
		}
		return true
	}
	order := make([]string, 0, len(names))
	for len(order) < len(names) {
		next := ""
		for _, s := range names {
			if !placed[s] && ready(s) {
				next = s
				break
			}
		}
		if next == "" {
			return nil, &CycleError{Path: findCycle(deps, names, placed)}
		}
		placed[next] = true
		order = append(order, next)
	}
	return order, nil
	// LAB 07.1 END
	// LAB 07.1 STUB: lab.WarnOnce("07.1") // name order: dependencies not first, cycles not found
	// LAB 07.1 STUB: names := make([]string, 0, len(deps))
	// LAB 07.1 STUB: for s := range deps {
	// LAB 07.1 STUB: 	names = append(names, s)
	// LAB 07.1 STUB: }
	// LAB 07.1 STUB: sort.Strings(names)
	// LAB 07.1 STUB: return names, nil
}

// findCycle returns a cycle among the services not placed (each of them
// waits for another one of them): walking from the first by name along its
// first unplaced dependency must come back to a service already on the
// path.
func findCycle(deps map[string][]string, names []string, placed map[string]bool) []string {
	var start string
	for _, s := range names {
		if !placed[s] {
			start = s
			break
		}
	}
	var path []string
	at := map[string]int{}
	for s := start; ; {
		if i, seen := at[s]; seen {
			return append(append([]string{}, path[i:]...), s)
		}
		at[s] = len(path)
		path = append(path, s)
		ds := append([]string{}, deps[s]...)
		sort.Strings(ds)
		next := ""
		for _, d := range ds {
			if _, known := deps[d]; known && !placed[d] {
				next = d
				break
			}
		}
		if next == "" { // cannot happen: s was not ready
			return path
		}
		s = next
	}
}

// Reverse is the stop order: dependents first.
func Reverse(order []string) []string {
	out := make([]string, len(order))
	for i, s := range order {
		out[len(order)-1-i] = s
	}
	return out
}
