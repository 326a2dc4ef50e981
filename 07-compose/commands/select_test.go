package commands

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/engine"
	"minibox/07-compose/model"
)

func names(list []*engine.Info) []string {
	var out []string
	for _, in := range list {
		out = append(out, in.Name)
	}
	return out
}

func TestSelectContainers(t *testing.T) {
	web1, web2, db1 := info("p", "web", 1, true), info("p", "web", 2, false), info("p", "db", 1, true)
	other := info("q", "web", 1, true)
	run := info("p", "web", 3, true)
	run.Name = "p-web-run-0123abcd"
	run.Config.Labels[model.LabelOneoff] = "True"
	stranger := info("p", "x", 1, true)
	delete(stranger.Config.Labels, model.LabelProject) // a container compose did not make
	restarting := info("p", "api", 1, false)
	restarting.State = engine.State{Status: "restarting", Restarting: true}
	list := []*engine.Info{run, other, web2, db1, web1, stranger, restarting}
	for _, tc := range []struct {
		name string
		sel  selection
		want []string
	}{
		{"running, by service then number", selection{Project: "p"}, []string{"p-api-1", "p-db-1", "p-web-1"}},
		{"all", selection{Project: "p", All: true}, []string{"p-api-1", "p-db-1", "p-web-1", "p-web-2"}},
		{"one-offs last in their service", selection{Project: "p", All: true, Oneoff: true}, []string{"p-api-1", "p-db-1", "p-web-1", "p-web-2", "p-web-run-0123abcd"}},
		{"services", selection{Project: "p", All: true, Services: []string{"web"}}, []string{"p-web-1", "p-web-2"}},
		{"index", selection{Project: "p", All: true, Services: []string{"web"}, Index: 2}, []string{"p-web-2"}},
		{"index of a stopped one, running only", selection{Project: "p", Services: []string{"web"}, Index: 2}, nil},
		{"another project", selection{Project: "q", All: true}, []string{"q-web-1"}},
		{"no such project", selection{Project: "nope", All: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, names(selectContainers(list, tc.sel)))
		})
	}
}

func TestShortName(t *testing.T) {
	assert.Equal(t, "web-1", shortName("p", "p-web-1"))
	assert.Equal(t, "web-run-0a1b", shortName("p", "p-web-run-0a1b"))
	assert.Equal(t, "my-db", shortName("p", "my-db"), "a container_name stays whole")
	assert.Equal(t, "p-", shortName("p", "p-"))
}

func TestCheckServices(t *testing.T) {
	p := &model.Project{Name: "p", Services: []model.Service{{Name: "web"}, {Name: "db"}}}
	assert.NoError(t, checkServices(p, []string{"web", "db"}))
	assert.EqualError(t, checkServices(p, []string{"web", "cache"}), "no such service: cache")
	assert.NoError(t, checkServices(nil, []string{"anything"}), "no file: the labels decide")
}

func TestUpFlagConflicts(t *testing.T) {
	for _, tc := range []struct {
		o    upFlags
		want string
	}{
		{upFlags{}, ""},
		{func() (o upFlags) { o.Build, o.NoBuild = true, true; return }(), "--build and --no-build are incompatible"},
		{func() (o upFlags) { o.ForceRecreate, o.NoRecreate = true, true; return }(), "--force-recreate and --no-recreate are incompatible"},
		{func() (o upFlags) { o.Detach, o.abortOnExit = true, true; return }(), "--abort-on-container-exit and --detach are incompatible"},
	} {
		err := tc.o.check()
		if tc.want == "" {
			assert.NoError(t, err)
		} else {
			assert.EqualError(t, err, tc.want)
		}
	}
}

// parse runs compose's tree's flag parsing on args (as the program gets
// them after `compose`) and returns the command found.
func parse(t *testing.T, args ...string) *cobra.Command {
	t.Helper()
	top := (&CLI{}).tree(nil)
	cmd, flags, err := top.Traverse(append([]string{"compose"}, args...))
	require.NoError(t, err)
	require.NoError(t, cmd.ParseFlags(flags))
	return cmd
}

// TestFlagLevels: the project's -f/-p are compose's, before the
// subcommand; logs' -f is --follow and run's options stop at the service.
func TestFlagLevels(t *testing.T) {
	cmd := parse(t, "-f", "a.yaml", "--file", "b.yaml", "-p", "demo", "--profile", "debug", "logs", "-f", "--tail", "3", "-t", "web")
	assert.Equal(t, "logs", cmd.Name())
	follow, _ := cmd.Flags().GetBool("follow")
	assert.True(t, follow)
	tail, _ := cmd.Flags().GetString("tail")
	assert.Equal(t, "3", tail)
	ts, _ := cmd.Flags().GetBool("timestamps")
	assert.True(t, ts)
	assert.Equal(t, []string{"web"}, cmd.Flags().Args())
	files, _ := cmd.Parent().Flags().GetStringArray("file")
	assert.Equal(t, []string{"a.yaml", "b.yaml"}, files)
	name, _ := cmd.Parent().Flags().GetString("project-name")
	assert.Equal(t, "demo", name)

	cmd = parse(t, "up", "-d", "--build", "--wait", "web", "db")
	assert.Equal(t, "up", cmd.Name())
	for _, f := range []string{"detach", "build", "wait"} {
		v, _ := cmd.Flags().GetBool(f)
		assert.True(t, v, f)
	}
	assert.Equal(t, []string{"web", "db"}, cmd.Flags().Args())

	cmd = parse(t, "exec", "-T", "web", "sh", "-c", "ls -f")
	assert.Equal(t, []string{"web", "sh", "-c", "ls -f"}, cmd.Flags().Args(), "exec's options end at the service")
	cmd = parse(t, "run", "--rm", "-e", "A=1", "web", "env", "-u")
	assert.Equal(t, []string{"web", "env", "-u"}, cmd.Flags().Args())
	env, _ := cmd.Flags().GetStringArray("env")
	assert.Equal(t, []string{"A=1"}, env)

	cmd = parse(t, "down", "-v", "--rmi", "local", "-t", "3")
	v, _ := cmd.Flags().GetBool("volumes")
	assert.True(t, v)
	to, _ := cmd.Flags().GetInt("timeout")
	assert.Equal(t, 3, to)
}

// run prints compose's errors bare and exits 1; a chosen exit status
// passes through.
func TestRunErrors(t *testing.T) {
	var errs bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetErr(&errs)
	err := run(func(*cobra.Command, []string) error { return errors.New("no such service: x") })(cmd, nil)
	var es *cli.ExitStatus
	require.ErrorAs(t, err, &es)
	assert.Equal(t, 1, es.Code)
	assert.Nil(t, es.Err, "printed already")
	assert.Equal(t, "no such service: x\n", errs.String())
	errs.Reset()
	err = run(func(*cobra.Command, []string) error { return cli.Status(3) })(cmd, nil)
	require.ErrorAs(t, err, &es)
	assert.Equal(t, 3, es.Code)
	assert.Empty(t, errs.String())
}

func TestUnknownCommand(t *testing.T) {
	top := (&CLI{}).tree(nil)
	top.SetArgs([]string{"compose", "nosuch"})
	var out bytes.Buffer
	top.SetOut(&out)
	top.SetErr(&out)
	top.SilenceErrors, top.SilenceUsage = true, true
	err := top.Execute()
	assert.EqualError(t, err, `unknown docker command: "compose nosuch"`)
	top = (&CLI{}).tree(nil)
	top.SetArgs([]string{"compose", "--help"})
	out.Reset()
	top.SetOut(&out)
	require.NoError(t, top.Execute())
	assert.Contains(t, out.String(), "minibox compose [command]")
	for _, c := range []string{"up", "down", "ps", "logs", "build", "pull", "push", "config", "exec", "run", "start", "stop", "restart", "rm", "images", "top", "port"} {
		assert.True(t, strings.Contains(out.String(), "\n  "+c+" "), c)
	}
}
