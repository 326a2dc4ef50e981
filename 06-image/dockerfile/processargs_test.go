package dockerfile

import (
	"fmt"
	"strings"
	"testing"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stageArgs parses a stage and returns what its ENTRYPOINT and CMD set, as
// the builder passes them to ProcessArgs.
func stageArgs(t *testing.T, lines ...string) (ep, cmd []string, epSet, cmdSet bool) {
	t.Helper()
	f := parse(t, "FROM base\n"+strings.Join(lines, "\n")+"\n")
	for _, s := range f.Stages[0].Steps {
		switch s.Kind {
		case "ENTRYPOINT":
			ep, epSet = Command(nil, s), true
		case "CMD":
			cmd = Command(nil, s)
			cmdSet = len(s.Args) > 0
		}
	}
	return ep, cmd, epSet, cmdSet
}

// TestProcessArgsTable is the table of Docker's reference, "Understand how
// CMD and ENTRYPOINT interact": rows are the CMD, columns the ENTRYPOINT,
// each cell the program the container runs (entrypoint + command). Every
// cell is checked three ways: both instructions in the image's own
// Dockerfile; the CMD inherited from the base image (then an ENTRYPOINT of
// this stage resets it, Docker's rule); and the ENTRYPOINT inherited
// (which a new CMD does not reset).
func TestProcessArgsTable(t *testing.T) {
	rows := []struct{ name, line string }{
		{"no CMD", ""},
		{`CMD ["exec_cmd", "p1_cmd"]`, `CMD ["exec_cmd", "p1_cmd"]`},
		{`CMD ["p1_cmd", "p2_cmd"]`, `CMD ["p1_cmd", "p2_cmd"]`},
		{"CMD exec_cmd p1_cmd", "CMD exec_cmd p1_cmd"},
	}
	cols := []struct{ name, line string }{
		{"no ENTRYPOINT", ""},
		{"ENTRYPOINT exec_entry p1_entry", "ENTRYPOINT exec_entry p1_entry"},
		{`ENTRYPOINT ["exec_entry", "p1_entry"]`, `ENTRYPOINT ["exec_entry", "p1_entry"]`},
	}
	sh := []string{"/bin/sh", "-c"}
	shEntry := append(sh[:2:2], "exec_entry p1_entry")
	// want[row][col]: the argv the container runs. Docker's table writes the
	// shell-form ENTRYPOINT's cells as "/bin/sh -c exec_entry p1_entry":
	// the CMD words follow as the script's $0, $1, which it ignores.
	want := [][][]string{
		{nil, shEntry, {"exec_entry", "p1_entry"}},
		{{"exec_cmd", "p1_cmd"}, append(shEntry, "exec_cmd", "p1_cmd"), {"exec_entry", "p1_entry", "exec_cmd", "p1_cmd"}},
		{{"p1_cmd", "p2_cmd"}, append(shEntry, "p1_cmd", "p2_cmd"), {"exec_entry", "p1_entry", "p1_cmd", "p2_cmd"}},
		{{"/bin/sh", "-c", "exec_cmd p1_cmd"}, append(shEntry, "/bin/sh", "-c", "exec_cmd p1_cmd"), {"exec_entry", "p1_entry", "/bin/sh", "-c", "exec_cmd p1_cmd"}},
	}
	run := func(ep, cmd []string) []string {
		argv := append(append([]string{}, ep...), cmd...)
		if len(argv) == 0 {
			return nil
		}
		return argv
	}
	for ri, row := range rows {
		for ci, col := range cols {
			name := fmt.Sprintf("%s/%s", row.name, col.name)
			t.Run(name+"/same stage", func(t *testing.T) {
				ep, cmd, epSet, cmdSet := stageArgs(t, row.line, col.line)
				e, c := ProcessArgs(ep, cmd, epSet, cmdSet, imagespec.ImageConfig{})
				assert.Equal(t, want[ri][ci], run(e, c))
				if ri == 0 && ci == 0 {
					assert.Empty(t, run(e, c), "Docker: an image with neither cannot run")
				}
			})
			t.Run(name+"/CMD from the base image", func(t *testing.T) {
				bep, bcmd, _, _ := stageArgs(t, row.line)
				base := imagespec.ImageConfig{Cmd: bcmd}
				ep, cmd, epSet, cmdSet := stageArgs(t, col.line)
				e, c := ProcessArgs(ep, cmd, epSet, cmdSet, base)
				require.Nil(t, bep)
				if epSet {
					// The inherited CMD was meant for another program.
					assert.Nil(t, c, "a new ENTRYPOINT resets the inherited CMD")
					assert.Equal(t, want[0][ci], run(e, c))
				} else {
					assert.Equal(t, want[ri][ci], run(e, c))
				}
			})
			t.Run(name+"/ENTRYPOINT from the base image", func(t *testing.T) {
				bep, _, _, _ := stageArgs(t, col.line)
				base := imagespec.ImageConfig{Entrypoint: bep, Cmd: []string{"stale"}}
				ep, cmd, epSet, cmdSet := stageArgs(t, row.line)
				e, c := ProcessArgs(ep, cmd, epSet, cmdSet, base)
				if cmdSet {
					assert.Equal(t, want[ri][ci], run(e, c))
				} else {
					assert.Equal(t, run(bep, []string{"stale"}), run(e, c), "nothing set here: all inherited")
				}
			})
		}
	}
}

func TestProcessArgsOrder(t *testing.T) {
	// CMD before ENTRYPOINT in the same stage still counts (cmdSet).
	ep, cmd, epSet, cmdSet := stageArgs(t, `CMD ["-v"]`, `ENTRYPOINT ["app"]`)
	e, c := ProcessArgs(ep, cmd, epSet, cmdSet, imagespec.ImageConfig{Cmd: []string{"old"}})
	assert.Equal(t, []string{"app"}, e)
	assert.Equal(t, []string{"-v"}, c)
	// ENTRYPOINT [] clears the base's entrypoint, and its CMD with it.
	ep, cmd, epSet, cmdSet = stageArgs(t, `ENTRYPOINT []`)
	e, c = ProcessArgs(ep, cmd, epSet, cmdSet, imagespec.ImageConfig{Entrypoint: []string{"x"}, Cmd: []string{"y"}})
	assert.Empty(t, e)
	assert.Nil(t, c)
	// The result never aliases the base's slices.
	base := imagespec.ImageConfig{Entrypoint: []string{"x"}, Cmd: []string{"y"}}
	e, c = ProcessArgs(nil, nil, false, false, base)
	e[0], c[0] = "changed", "changed"
	assert.Equal(t, []string{"x"}, base.Entrypoint)
	assert.Equal(t, []string{"y"}, base.Cmd)
}
