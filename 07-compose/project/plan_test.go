package project

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPlan(t *testing.T) {
	want := Desired{Service: "web", Scale: 1, ConfigHash: "h1", ImageID: "i1"}
	up := func(name string, n int, running bool) Existing {
		return Existing{Name: name, Number: n, Running: running, ConfigHash: "h1", ImageID: "i1", Created: time.Unix(int64(n), 0)}
	}
	old := func(e Existing) Existing { e.ConfigHash = "h0"; return e }
	oldImage := func(e Existing) Existing { e.ImageID = "i0"; return e }
	scale := func(n int) Desired { d := want; d.Scale = n; return d }
	for _, tc := range []struct {
		name   string
		want   Desired
		have   []Existing
		policy string
		steps  []Step
	}{
		{"nothing yet: create number 1", want, nil, RecreateDiverged, []Step{{Action: Create, Number: 1}}},
		{"running and up to date: keep", want, []Existing{up("p-web-1", 1, true)}, RecreateDiverged,
			[]Step{{Action: Keep, Number: 1, Name: "p-web-1"}}},
		{"restarting counts as running", want, []Existing{{Name: "p-web-1", Number: 1, Restarting: true, ConfigHash: "h1", ImageID: "i1"}},
			RecreateDiverged, []Step{{Action: Keep, Number: 1, Name: "p-web-1"}}},
		{"stopped and up to date: start", want, []Existing{up("p-web-1", 1, false)}, RecreateDiverged,
			[]Step{{Action: Start, Number: 1, Name: "p-web-1"}}},
		{"config changed: recreate", want, []Existing{old(up("p-web-1", 1, true))}, RecreateDiverged,
			[]Step{{Action: Recreate, Number: 1, Name: "p-web-1"}}},
		{"image changed: recreate", want, []Existing{oldImage(up("p-web-1", 1, true))}, RecreateDiverged,
			[]Step{{Action: Recreate, Number: 1, Name: "p-web-1"}}},
		{"stopped and changed: recreate", want, []Existing{old(up("p-web-1", 1, false))}, RecreateDiverged,
			[]Step{{Action: Recreate, Number: 1, Name: "p-web-1"}}},
		{"force: recreate the unchanged", want, []Existing{up("p-web-1", 1, true)}, RecreateForce,
			[]Step{{Action: Recreate, Number: 1, Name: "p-web-1"}}},
		{"never: keep the changed", want, []Existing{old(up("p-web-1", 1, true))}, RecreateNever,
			[]Step{{Action: Keep, Number: 1, Name: "p-web-1"}}},
		{"never: start the changed and stopped", want, []Existing{old(up("p-web-1", 1, false))}, RecreateNever,
			[]Step{{Action: Start, Number: 1, Name: "p-web-1"}}},
		{"scale up: numbers after the highest", scale(3), []Existing{up("p-web-2", 2, true)}, RecreateDiverged,
			[]Step{{Action: Keep, Number: 2, Name: "p-web-2"}, {Action: Create, Number: 3}, {Action: Create, Number: 4}}},
		{"scale down: the highest numbers go", scale(1),
			[]Existing{up("p-web-3", 3, true), up("p-web-1", 1, true), up("p-web-2", 2, true)}, RecreateDiverged,
			[]Step{{Action: Keep, Number: 1, Name: "p-web-1"}, {Action: Remove, Number: 2, Name: "p-web-2"}, {Action: Remove, Number: 3, Name: "p-web-3"}}},
		{"scale down: the obsolete go first", scale(2),
			[]Existing{old(up("p-web-1", 1, true)), up("p-web-2", 2, true), up("p-web-3", 3, false)}, RecreateDiverged,
			[]Step{{Action: Keep, Number: 2, Name: "p-web-2"}, {Action: Start, Number: 3, Name: "p-web-3"}, {Action: Remove, Number: 1, Name: "p-web-1"}}},
		{"scale 0: remove all", scale(0), []Existing{up("p-web-1", 1, true)}, RecreateDiverged,
			[]Step{{Action: Remove, Number: 1, Name: "p-web-1"}}},
		{"mixed", scale(3), []Existing{up("p-web-1", 1, true), old(up("p-web-2", 2, true))}, RecreateDiverged,
			[]Step{{Action: Keep, Number: 1, Name: "p-web-1"}, {Action: Recreate, Number: 2, Name: "p-web-2"}, {Action: Create, Number: 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.steps, Plan(tc.want, tc.have, tc.policy))
		})
	}
}

// TestPlanKeepsTheInput: the plan sorts a copy.
func TestPlanKeepsTheInput(t *testing.T) {
	have := []Existing{{Name: "b", Number: 2}, {Name: "a", Number: 1}}
	Plan(Desired{Scale: 1}, have, RecreateDiverged)
	assert.Equal(t, "b", have[0].Name)
}
