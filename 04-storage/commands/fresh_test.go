package commands

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
)

// TestFresh: a fresh tree has the later lessons' commands again, the same
// globals, and none of the flag values a run of another tree left.
func TestFresh(t *testing.T) {
	wire := func(Globals) (*engine.Engine, error) { return nil, fmt.Errorf("no engine in this test") }
	c := New("minibox", "test", wire)
	made := 0
	c.AddLessons(func(c *CLI) []*cobra.Command {
		made++
		var v string
		cmd := &cobra.Command{Use: "echo", RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "v=%q data=%s\n", v, c.Globals.DataRoot)
			return nil
		}}
		cmd.Flags().StringVar(&v, "v", "", "")
		return []*cobra.Command{cmd}
	})
	c.Globals.DataRoot = "/data/x"
	var out bytes.Buffer
	f := c.Fresh()
	require.Equal(t, 0, f.Execute([]string{"echo", "--v", "1"}, &out, &out))
	require.Equal(t, 0, c.Fresh().Execute([]string{"echo"}, &out, &out))
	assert.Equal(t, "v=\"1\" data=/data/x\nv=\"\" data=/data/x\n", out.String())
	assert.Equal(t, 3, made, "the lessons' commands made for each tree")
	require.NotNil(t, find(f.Root, "create"), "lesson 04's commands too")
}

func find(root *cobra.Command, name string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}
