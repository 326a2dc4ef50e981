package graph

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOrderDependenciesFirst(t *testing.T) {
	for _, tc := range []struct {
		name string
		deps map[string][]string
		want []string
	}{
		{"empty", map[string][]string{}, []string{}},
		{"independent by name", map[string][]string{"web": nil, "db": nil, "cache": nil}, []string{"cache", "db", "web"}},
		{"one dependency against name order", map[string][]string{"app": {"db"}, "db": nil}, []string{"db", "app"}},
		{"chain", map[string][]string{"a": {"b"}, "b": {"c"}, "c": nil}, []string{"c", "b", "a"}},
		{"diamond", map[string][]string{"app": {"db", "cache"}, "db": {"base"}, "cache": {"base"}, "base": nil},
			[]string{"base", "cache", "db", "app"}},
		{"ties by name as soon as ready", map[string][]string{"z": nil, "y": {"z"}, "a": {"y"}, "b": nil},
			[]string{"b", "z", "y", "a"}},
		{"unknown dependency ignored", map[string][]string{"web": {"gone"}}, []string{"web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Order(tc.deps)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestOrderRandomGraphs checks the rule itself on random acyclic graphs:
// every service once, after each of its dependencies.
func TestOrderRandomGraphs(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for i := 0; i < 200; i++ {
		n := 1 + r.Intn(12)
		deps := map[string][]string{}
		for j := 0; j < n; j++ {
			s := fmt.Sprintf("s%02d", j)
			deps[s] = nil
			for k := 0; k < j; k++ { // edges only to lower numbers: no cycle
				if r.Intn(3) == 0 {
					deps[s] = append(deps[s], fmt.Sprintf("s%02d", k))
				}
			}
		}
		got, err := Order(deps)
		require.NoError(t, err)
		require.Len(t, got, n)
		pos := map[string]int{}
		for p, s := range got {
			pos[s] = p
		}
		require.Len(t, pos, n)
		for s, ds := range deps {
			for _, d := range ds {
				require.Less(t, pos[d], pos[s], "%s depends on %s: %v", s, d, got)
			}
		}
	}
}

func TestOrderCycle(t *testing.T) {
	for _, tc := range []struct {
		name string
		deps map[string][]string
		want []string
		msg  string
	}{
		{"two", map[string][]string{"a": {"b"}, "b": {"a"}}, []string{"a", "b", "a"}, "dependency cycle detected: a -> b -> a"},
		{"self", map[string][]string{"a": {"a"}, "b": nil}, []string{"a", "a"}, "dependency cycle detected: a -> a"},
		{"three behind a dependent", map[string][]string{"app": {"x"}, "x": {"y"}, "y": {"z"}, "z": {"x"}, "db": nil},
			[]string{"x", "y", "z", "x"}, "dependency cycle detected: x -> y -> z -> x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Order(tc.deps)
			require.Error(t, err)
			assert.Nil(t, got)
			var ce *CycleError
			require.True(t, errors.As(err, &ce), "%T", err)
			assert.Equal(t, tc.want, ce.Path)
			assert.EqualError(t, err, tc.msg)
		})
	}
}

func TestReverse(t *testing.T) {
	assert.Equal(t, []string{"a", "b", "c"}, Reverse([]string{"c", "b", "a"}))
	assert.Equal(t, []string{}, Reverse(nil))
}

func FuzzOrder(f *testing.F) {
	f.Add([]byte{0, 1, 1, 2, 2, 0})
	f.Add([]byte{3, 3})
	f.Fuzz(func(t *testing.T, edges []byte) {
		deps := map[string][]string{}
		for i := 0; i+1 < len(edges); i += 2 {
			a, b := fmt.Sprint(edges[i]%8), fmt.Sprint(edges[i+1]%8)
			deps[a] = append(deps[a], b)
			if _, ok := deps[b]; !ok {
				deps[b] = nil
			}
		}
		got, err := Order(deps)
		if err != nil {
			var ce *CycleError
			require.True(t, errors.As(err, &ce))
			require.GreaterOrEqual(t, len(ce.Path), 2)
			require.Equal(t, ce.Path[0], ce.Path[len(ce.Path)-1])
			for i := 0; i+1 < len(ce.Path); i++ {
				require.Contains(t, deps[ce.Path[i]], ce.Path[i+1])
			}
			return
		}
		pos := map[string]int{}
		for p, s := range got {
			pos[s] = p
		}
		require.Len(t, pos, len(deps))
		for s, ds := range deps {
			for _, d := range ds {
				require.Less(t, pos[d], pos[s])
			}
		}
	})
}
