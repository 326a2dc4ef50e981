package project

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/07-compose/graph"
	"minibox/07-compose/model"
)

func init() { PollInterval = time.Millisecond }

// testProject: app depends on db (name order is the wrong start order),
// cache stands alone; a named volume for db.
func testProject() *model.Project {
	return &model.Project{
		Name: "p", WorkingDir: "/src/p", Files: []string{"/src/p/compose.yaml", "/src/p/compose.override.yaml"},
		Services: []model.Service{
			{Name: "app", Image: "busybox", Scale: 1, Command: []string{"httpd", "-f"},
				DependsOn: map[string]model.Dependency{"db": {Condition: "service_started", Required: true}}},
			{Name: "cache", Image: "busybox", Scale: 1},
			{Name: "db", Image: "busybox", Scale: 1,
				Volumes: []model.Mount{{Type: "volume", Source: "data", Target: "/data"}}},
		},
		Networks: map[string]model.Network{"default": {Name: "p_default"}},
		Volumes:  map[string]model.Volume{"data": {Name: "p_data"}},
	}
}

func newCompose(p *model.Project) (*Compose, *fake, *bytes.Buffer, *bytes.Buffer) {
	f := newFake()
	f.images["busybox"] = "sha256:busybox1"
	var out, errb bytes.Buffer
	return &Compose{Project: p, Backend: f, Out: &out, Err: &errb}, f, &out, &errb
}

func filter(log []string, prefix string) []string {
	var out []string
	for _, l := range log {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func TestUpCreatesInDependencyOrder(t *testing.T) {
	c, f, out, _ := newCompose(testProject())
	require.NoError(t, c.Up(context.Background(), UpOptions{Detach: true}))
	assert.Equal(t, []string{
		"network create p_default", "volume create p_data",
		"create p-cache-1", "create p-db-1", "create p-app-1",
		"start p-cache-1", "start p-db-1", "start p-app-1",
	}, f.actions(), "dependencies first, else by name")
	assert.Equal(t, ` ✔ Network p_default  Created
 ✔ Volume p_data  Created
 ✔ Container p-cache-1  Created
 ✔ Container p-db-1  Created
 ✔ Container p-app-1  Created
 ✔ Container p-cache-1  Started
 ✔ Container p-db-1  Started
 ✔ Container p-app-1  Started
`, out.String())
	assert.Equal(t, map[string]string{model.LabelNetwork: "default", model.LabelProject: "p", model.LabelVersion: model.Version}, f.networks["p_default"])
	assert.Equal(t, map[string]string{model.LabelVolume: "data", model.LabelProject: "p", model.LabelVersion: model.Version}, f.volumes["p_data"])
}

func TestUpLabels(t *testing.T) {
	p := testProject()
	p.Services[0].Labels = map[string]string{"mine": "yes", model.LabelService: "not this"}
	c, f, _, _ := newCompose(p)
	require.NoError(t, c.Up(context.Background(), UpOptions{Detach: true}))
	app, _ := p.Service("app")
	assert.Equal(t, map[string]string{
		"mine":                 "yes",
		model.LabelProject:     "p",
		model.LabelService:     "app",
		model.LabelNumber:      "1",
		model.LabelOneoff:      "False",
		model.LabelConfigHash:  model.ConfigHash(*app),
		model.LabelWorkingDir:  "/src/p",
		model.LabelConfigFiles: "/src/p/compose.yaml,/src/p/compose.override.yaml",
		model.LabelVersion:     model.Version,
		model.LabelImage:       "sha256:busybox1",
		model.LabelDependsOn:   "db:service_started:false",
	}, f.containers["p-app-1"].Config.Labels)
	assert.Len(t, f.containers["p-app-1"].Config.Labels[model.LabelConfigHash], 64)
	assert.Equal(t, "", f.containers["p-db-1"].Config.Labels[model.LabelDependsOn])
}

func TestUpIdempotent(t *testing.T) {
	c, f, out, _ := newCompose(testProject())
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	f.reset()
	out.Reset()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	assert.Empty(t, f.actions())
	assert.Equal(t, " ✔ Container p-cache-1  Running\n ✔ Container p-db-1  Running\n ✔ Container p-app-1  Running\n", out.String())
}

func TestUpRecreatesOnlyTheChangedService(t *testing.T) {
	p := testProject()
	c, f, out, _ := newCompose(p)
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	f.reset()
	out.Reset()
	p.Services[1].Environment = []string{"SIZE=64m"} // cache
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	assert.Equal(t, []string{"stop p-cache-1 default", "rm p-cache-1", "create p-cache-1", "start p-cache-1"}, f.actions())
	assert.Contains(t, out.String(), " ✔ Container p-cache-1  Recreated\n")
	assert.Contains(t, out.String(), " ✔ Container p-db-1  Running\n")

	// A change that is not the containers' (scale stays 1, depends_on) recreates nothing.
	f.reset()
	p.Services[1].DependsOn = map[string]model.Dependency{"db": {Condition: "service_started", Required: true}}
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	assert.Empty(t, f.actions())
}

func TestUpRecreatesOnANewImage(t *testing.T) {
	c, f, _, _ := newCompose(testProject())
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	f.reset()
	f.images["busybox"] = "sha256:busybox2" // pulled or built again
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true, Services: []string{"cache"}}))
	assert.Equal(t, []string{"stop p-cache-1 default", "rm p-cache-1", "create p-cache-1", "start p-cache-1"}, f.actions())
	assert.Equal(t, "sha256:busybox2", f.containers["p-cache-1"].Config.Labels[model.LabelImage])
}

func TestUpStartsAStoppedContainer(t *testing.T) {
	c, f, out, _ := newCompose(testProject())
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	require.NoError(t, c.Stop(ctx, []string{"cache"}, nil))
	f.reset()
	out.Reset()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	assert.Equal(t, []string{"start p-cache-1"}, f.actions())
	assert.Contains(t, out.String(), " ✔ Container p-cache-1  Started\n")
}

func TestUpRecreatePolicies(t *testing.T) {
	c, f, _, _ := newCompose(testProject())
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	f.reset()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true, ForceRecreate: true, Services: []string{"app"}}))
	// app is recreated; db, its dependency, is not (compose's --force-recreate is for the services named).
	assert.Equal(t, []string{"stop p-app-1 default", "rm p-app-1", "create p-app-1", "start p-app-1"}, f.actions())

	f.reset()
	c.Project.Services[0].Environment = []string{"A=1"}
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true, NoRecreate: true}))
	assert.Empty(t, f.actions())
	assert.EqualError(t, c.Up(ctx, UpOptions{ForceRecreate: true, NoRecreate: true}), "--force-recreate and --no-recreate are incompatible")
}

func TestUpScale(t *testing.T) {
	p := testProject()
	c, f, _, _ := newCompose(p)
	ctx := context.Background()
	p.Services[1].Scale = 3
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true, Services: []string{"cache"}}))
	assert.Equal(t, []string{"network create p_default", "create p-cache-1", "create p-cache-2", "create p-cache-3",
		"start p-cache-1", "start p-cache-2", "start p-cache-3"}, f.actions())
	f.reset()
	p.Services[1].Scale = 1
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true, Services: []string{"cache"}}))
	assert.Equal(t, []string{"stop p-cache-2 default", "rm p-cache-2", "stop p-cache-3 default", "rm p-cache-3"}, f.actions())
}

func TestUpServicesBringTheirDependencies(t *testing.T) {
	c, f, _, _ := newCompose(testProject())
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true, Services: []string{"app"}}))
	assert.Equal(t, []string{"network create p_default", "volume create p_data",
		"create p-db-1", "create p-app-1", "start p-db-1", "start p-app-1"}, f.actions())

	f.reset()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true, Services: []string{"cache"}, NoDeps: true}))
	assert.Equal(t, []string{"create p-cache-1", "start p-cache-1"}, f.actions())

	assert.EqualError(t, c.Up(ctx, UpOptions{Services: []string{"nope"}}), "no such service: nope")
}

func TestUpCycle(t *testing.T) {
	p := testProject()
	p.Services[2].DependsOn = map[string]model.Dependency{"app": {Condition: "service_started", Required: true}}
	c, f, _, _ := newCompose(p)
	err := c.Up(context.Background(), UpOptions{Detach: true})
	var ce *graph.CycleError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.EqualError(t, err, "dependency cycle detected: app -> db -> app")
	assert.Empty(t, f.actions(), "nothing made")
}

func TestUpOrphans(t *testing.T) {
	p := testProject()
	c, f, _, errb := newCompose(p)
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	p.Services = p.Services[:2] // db is gone from the file (app's dependency too)
	delete(p.Services[0].DependsOn, "db")
	f.reset()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	assert.Empty(t, f.actions())
	assert.Equal(t, "WARN[0000] Found orphan containers (p-db-1) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n", errb.String())

	// A service only a profile hides is no orphan.
	p.Disabled = []string{"db"}
	errb.Reset()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	assert.Empty(t, errb.String())
	p.Disabled = nil

	errb.Reset()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true, RemoveOrphans: true}))
	assert.Equal(t, []string{"stop p-db-1 default", "rm p-db-1"}, f.actions())
	assert.Empty(t, errb.String())
}

func TestUpBuildsAndPulls(t *testing.T) {
	p := testProject()
	p.Services[0].Image = "p-app"
	p.Services[0].Build = &model.Build{Context: "/src/p/app"}
	p.Services[1].Image = "registry.local/cache:1"
	c, f, _, _ := newCompose(p)
	f.registry["registry.local/cache:1"] = "sha256:cache1"
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	assert.Equal(t, []string{"build p-app", "pull registry.local/cache:1"}, append(filter(f.actions(), "build"), filter(f.actions(), "pull")...))
	assert.Equal(t, "sha256:built1", f.containers["p-app-1"].Config.Labels[model.LabelImage])

	// Again: nothing to build or pull; --build builds again, and the new
	// image recreates app's container.
	f.reset()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	assert.Empty(t, f.actions())
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true, Build: true}))
	assert.Equal(t, []string{"build p-app", "stop p-app-1 default", "rm p-app-1", "create p-app-1", "start p-app-1"}, f.actions())

	// A missing image that cannot be pulled fails up before any container.
	p.Services[1].Image = "registry.local/gone"
	f.reset()
	err := c.Up(ctx, UpOptions{Detach: true})
	assert.ErrorContains(t, err, "manifest for registry.local/gone not found")
	assert.Empty(t, filter(f.actions(), "create"))
}

func healthProject(cond string, required bool) *model.Project {
	p := testProject()
	p.Services[0].DependsOn = map[string]model.Dependency{"db": {Condition: cond, Required: required}}
	p.Services[2].Healthcheck = &model.Healthcheck{Test: []string{"CMD", "true"}, Interval: time.Second}
	return p
}

func TestUpServiceHealthy(t *testing.T) {
	c, f, out, _ := newCompose(healthProject("service_healthy", true))
	f.health["db"] = []string{"starting", "starting", "healthy"}
	require.NoError(t, c.Up(context.Background(), UpOptions{Detach: true}))
	assert.Equal(t, []string{"start p-cache-1", "start p-db-1", "start p-app-1"}, filter(f.actions(), "start"))
	assert.Contains(t, out.String(), " ✔ Container p-db-1  Started\n ✔ Container p-db-1  Waiting\n ✔ Container p-db-1  Healthy\n ✔ Container p-app-1  Started\n")
	assert.Empty(t, f.health["db"][1:], "asked until healthy")
}

func TestUpServiceUnhealthy(t *testing.T) {
	c, f, _, _ := newCompose(healthProject("service_healthy", true))
	f.health["db"] = []string{"starting", "unhealthy"}
	err := c.Up(context.Background(), UpOptions{Detach: true})
	assert.EqualError(t, err, "dependency failed to start: container p-db-1 is unhealthy")
	assert.Equal(t, []string{"start p-cache-1", "start p-db-1"}, filter(f.actions(), "start"), "app not started")
}

func TestUpServiceHealthyWithoutHealthcheck(t *testing.T) {
	p := healthProject("service_healthy", true)
	p.Services[2].Healthcheck = nil
	c, _, _, _ := newCompose(p)
	assert.EqualError(t, c.Up(context.Background(), UpOptions{Detach: true}),
		"dependency failed to start: container p-db-1 has no healthcheck configured")
}

func TestUpOptionalDependency(t *testing.T) {
	c, f, _, errb := newCompose(healthProject("service_healthy", false))
	f.health["db"] = []string{"unhealthy"}
	require.NoError(t, c.Up(context.Background(), UpOptions{Detach: true}))
	assert.Contains(t, filter(f.actions(), "start"), "start p-app-1")
	assert.Contains(t, errb.String(), `optional dependency "db" failed to start: container p-db-1 is unhealthy`)
}

func TestUpServiceCompletedSuccessfully(t *testing.T) {
	c, f, out, _ := newCompose(healthProject("service_completed_successfully", true))
	f.exit["db"] = 0
	require.NoError(t, c.Up(context.Background(), UpOptions{Detach: true}))
	assert.Contains(t, filter(f.actions(), "start"), "start p-app-1")
	assert.Contains(t, out.String(), " ✔ Container p-db-1  Exited\n")

	c, f, _, _ = newCompose(healthProject("service_completed_successfully", true))
	f.exit["db"] = 3
	assert.EqualError(t, c.Up(context.Background(), UpOptions{Detach: true}), `service "db" didn't complete successfully: exit 3`)
	assert.NotContains(t, filter(f.actions(), "start"), "start p-app-1")
}

func TestUpMissingDependency(t *testing.T) {
	p := healthProject("service_healthy", true)
	p.Services[2].Scale = 0 // no container to wait for: compose does not wait
	c, f, _, _ := newCompose(p)
	require.NoError(t, c.Up(context.Background(), UpOptions{Detach: true}))
	assert.Contains(t, f.actions(), "start p-app-1")
}

func TestUpWait(t *testing.T) {
	c, f, _, _ := newCompose(healthProject("service_started", true))
	f.health["db"] = []string{"starting", "healthy"}
	require.NoError(t, c.Up(context.Background(), UpOptions{Detach: true, Wait: true}))
	assert.Empty(t, f.health["db"][1:])

	c, f, _, _ = newCompose(healthProject("service_started", true))
	f.health["db"] = []string{"starting"}
	err := c.Up(context.Background(), UpOptions{Detach: true, Wait: true, WaitTimeout: 50 * time.Millisecond})
	assert.EqualError(t, err, "timeout waiting for db to be running and healthy")
}

func TestUpOtherNetworks(t *testing.T) {
	p := testProject()
	p.Networks = map[string]model.Network{"front": {Name: "p_front"}, "back": {Name: "p_back"}, "ext": {Name: "shared", External: true}}
	p.Services[1].Networks = map[string]model.ServiceNetwork{
		"front": {Priority: 10, Aliases: []string{"c"}}, "back": {}, "ext": {},
	}
	p.Services = p.Services[1:2]
	c, f, _, _ := newCompose(p)
	ctx := context.Background()
	assert.EqualError(t, c.Up(ctx, UpOptions{Detach: true}), "network shared declared as external, but could not be found")
	f.networks["shared"] = map[string]string{}
	f.reset()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	assert.Equal(t, []string{"network create p_front", "network create p_back", "create p-cache-1",
		"network connect p_back p-cache-1 cache", "network connect shared p-cache-1 cache", "start p-cache-1"}, f.actions())
	args, _, err := CreateArgs(f.specs["p-cache-1"])
	require.NoError(t, err)
	assert.Contains(t, strings.Join(args, " "), "--network p_front --network-alias cache --network-alias c ")
}

func TestDown(t *testing.T) {
	p := testProject()
	p.Services[0].StopGracePeriod = ptr(3 * time.Second)
	c, f, out, _ := newCompose(p)
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	_, err := c.RunOneoff(ctx, "cache", RunOptions{Detach: true})
	require.NoError(t, err)
	f.reset()
	out.Reset()
	require.NoError(t, c.Down(ctx, DownOptions{}))
	down := f.actions()
	require.Len(t, down, 9)
	// Dependents first: app before db; the one-off goes too.
	assert.Equal(t, []string{"stop p-app-1 3", "rm p-app-1"}, down[:2], "%v", down)
	assert.Less(t, indexOf(down, "rm p-app-1"), indexOf(down, "stop p-db-1 default"))
	assert.Equal(t, "network rm p_default", down[8])
	assert.Empty(t, f.containers)
	assert.Contains(t, f.volumes, "p_data", "named volumes stay without -v")
	assert.Contains(t, out.String(), " ✔ Network p_default  Removed\n")

	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	f.reset()
	require.NoError(t, c.Down(ctx, DownOptions{Volumes: true}))
	assert.Contains(t, f.actions(), "volume rm p_data")
	assert.NotContains(t, f.volumes, "p_data")

	// Down again: nothing left to do.
	f.reset()
	require.NoError(t, c.Down(ctx, DownOptions{Volumes: true}))
	assert.Empty(t, f.actions())
}

func TestDownRMI(t *testing.T) {
	p := testProject()
	p.Services[0].Image = "p-app"
	p.Services[0].Build = &model.Build{Context: "/src/p/app"}
	c, f, _, _ := newCompose(p)
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	f.reset()
	require.NoError(t, c.Down(ctx, DownOptions{RMI: "local"}))
	assert.Equal(t, []string{"rmi p-app"}, filter(f.actions(), "rmi"))
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	f.reset()
	require.NoError(t, c.Down(ctx, DownOptions{RMI: "all"}))
	assert.Equal(t, []string{"rmi p-app", "rmi busybox"}, filter(f.actions(), "rmi"))
	assert.EqualError(t, c.Down(ctx, DownOptions{RMI: "some"}), `invalid --rmi option "some"`)
}

func TestStartStopRestartRemove(t *testing.T) {
	c, f, out, errb := newCompose(testProject())
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	f.reset()
	require.NoError(t, c.Stop(ctx, nil, ptr(1)))
	assert.Equal(t, []string{"stop p-app-1 1", "stop p-db-1 1", "stop p-cache-1 1"}, f.actions(), "dependents first")
	f.reset()
	require.NoError(t, c.Start(ctx, nil))
	assert.Equal(t, []string{"start p-cache-1", "start p-db-1", "start p-app-1"}, f.actions())
	f.reset()
	require.NoError(t, c.Restart(ctx, []string{"db"}, nil))
	assert.Equal(t, []string{"stop p-db-1 default", "start p-db-1"}, f.actions())
	f.reset()
	out.Reset()
	require.NoError(t, c.Remove(ctx, []string{"db"}, false, false, false))
	assert.Empty(t, f.actions(), "running: not removed without -f or -s")
	assert.Equal(t, "No stopped containers\n", errb.String())
	require.NoError(t, c.Remove(ctx, []string{"db"}, false, true, false))
	assert.Equal(t, []string{"stop p-db-1 default", "rm p-db-1"}, f.actions())
	require.NoError(t, c.Remove(ctx, []string{"cache"}, true, false, false))
	assert.Equal(t, "rm p-cache-1", f.actions()[2])
	assert.EqualError(t, c.Start(ctx, []string{"db"}), `service "db" has no container to start`)
	assert.EqualError(t, c.Stop(ctx, []string{"x"}, nil), "no such service: x")
}

func TestContainers(t *testing.T) {
	p := testProject()
	p.Services[1].Scale = 2
	c, _, _, _ := newCompose(p)
	ctx := context.Background()
	require.NoError(t, c.Up(ctx, UpOptions{Detach: true}))
	_, err := c.RunOneoff(ctx, "db", RunOptions{Detach: true})
	require.NoError(t, err)
	list, err := c.Containers(ctx, true)
	require.NoError(t, err)
	var names []string
	for _, in := range list {
		names = append(names, in.Name)
	}
	assert.Equal(t, []string{"p-app-1", "p-cache-1", "p-cache-2", "p-db-1"}, names, "sorted, no one-off")
	list, err = c.Containers(ctx, true, "cache")
	require.NoError(t, err)
	assert.Len(t, list, 2)
	_, err = c.Containers(ctx, true, "nope")
	assert.EqualError(t, err, "no such service: nope")
}

func TestRunOneoff(t *testing.T) {
	c, f, _, _ := newCompose(testProject())
	ctx := context.Background()
	ep := ""
	_, err := c.RunOneoff(ctx, "app", RunOptions{Command: []string{"echo", "hi"}, Entrypoint: &ep, Env: []string{"A=1"}, Rm: false, NoTTY: true})
	require.NoError(t, err)
	// db, the dependency, is brought up first.
	assert.Equal(t, []string{"network create p_default", "volume create p_data", "create p-db-1", "start p-db-1"}, f.actions()[:4])
	var name string
	for n := range f.specs {
		if strings.HasPrefix(n, "p-app-run-") {
			name = n
		}
	}
	require.Regexp(t, `^p-app-run-[0-9a-f]{12}$`, name)
	spec := f.specs[name]
	assert.Equal(t, "True", spec.Labels[model.LabelOneoff])
	assert.NotContains(t, spec.Labels, model.LabelNumber)
	assert.Equal(t, []string{"echo", "hi"}, spec.Service.Command)
	assert.Equal(t, []string{}, spec.Service.Entrypoint)
	assert.Equal(t, []string{"A=1"}, spec.Service.Environment)
	assert.Equal(t, []string{"httpd", "-f"}, c.Project.Services[0].Command, "the project's service unchanged")

	f.reset()
	_, err = c.RunOneoff(ctx, "app", RunOptions{NoDeps: true, Name: "x", Rm: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"create x", "start x"}, f.actions())
	_, err = c.RunOneoff(ctx, "nope", RunOptions{})
	assert.EqualError(t, err, "no such service: nope")
}

func TestBuildPullPush(t *testing.T) {
	p := testProject()
	p.Services[0].Image = "reg.local/app:1"
	p.Services[0].Build = &model.Build{Context: "/src/p/app", Tags: []string{"reg.local/app:latest"}}
	c, f, _, _ := newCompose(p)
	f.registry["busybox"] = "sha256:busybox1"
	ctx := context.Background()
	require.NoError(t, c.Build(ctx, nil, true, false))
	assert.Equal(t, []string{"build reg.local/app:1,reg.local/app:latest"}, f.actions())
	f.reset()
	require.NoError(t, c.Pull(ctx, nil))
	assert.Equal(t, []string{"pull busybox", "pull busybox"}, f.actions(), "cache and db; app is built")
	f.reset()
	require.NoError(t, c.Push(ctx, nil))
	assert.Equal(t, []string{"push reg.local/app:1", "push reg.local/app:latest"}, f.actions())
}

func ptr[T any](v T) *T { return &v }

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
