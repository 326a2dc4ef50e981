// Package graph orders a compose project's services by their depends_on:
// a service starts after the services it depends on, and stops before
// them. compose does the same walk (its dependencies.go visits the graph
// from the leaves); a cycle makes the project impossible to start, and is
// named in the error.
package graph

import (
	"errors"
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
	return nil, errors.New("not implemented yet")
}

// Reverse is the stop order: dependents first.
func Reverse(order []string) []string {
	out := make([]string, len(order))
	for i, s := range order {
		out[len(order)-1-i] = s
	}
	return out
}
