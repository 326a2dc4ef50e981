package project

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
	"minibox/07-compose/model"
)

// TestCreateArgs: every field of the model that a create flag says, as
// the flag, and the rest on the request.
func TestCreateArgs(t *testing.T) {
	p := &model.Project{Name: "p", Networks: map[string]model.Network{"front": {Name: "p_front"}, "back": {Name: "p_back"}},
		Volumes: map[string]model.Volume{"data": {Name: "p_data"}}}
	yes := true
	grace := 4 * time.Second
	s := &model.Service{
		Name: "web", Image: "busybox:1", Command: []string{"httpd", "-f", "-p", "80"},
		Entrypoint:  []string{"/bin/sh", "-c"},
		Environment: []string{"A=1", "B=two words"},
		Hostname:    "h", User: "nobody", WorkingDir: "/srv", Tty: true, StdinOpen: true,
		Ports: []model.Port{{Target: "80", Published: "8080", Protocol: "tcp"}, {HostIP: "127.0.0.1", Target: "53", Protocol: "udp"},
			{Target: "9000"}},
		Expose: []string{"81", "82/udp"},
		Volumes: []model.Mount{
			{Type: "bind", Source: "/src/p/html", Target: "/www", ReadOnly: true, CreateHostPath: true},
			{Type: "bind", Source: "/etc/hosts", Target: "/h"},
			{Type: "volume", Source: "data", Target: "/data", NoCopy: true},
			{Type: "volume", Target: "/anon"},
			{Type: "tmpfs", Target: "/run", TmpfsSize: 1 << 20, TmpfsMode: 0o1777},
		},
		Networks: map[string]model.ServiceNetwork{"front": {Aliases: []string{"www"}, IPv4Address: "10.5.0.5", Priority: 5}, "back": {}},
		DNS:      []string{"1.1.1.1"}, ExtraHosts: []string{"db:10.0.0.2"},
		Restart:     "on-failure:3",
		Healthcheck: &model.Healthcheck{Test: []string{"CMD-SHELL", "wget -q localhost"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4},
		Resources:   model.Resources{Memory: 64 << 20, NanoCPUs: 1500000000, Pids: 100},
		CapAdd:      []string{"NET_ADMIN"}, CapDrop: []string{"MKNOD"},
		Privileged: true, ReadOnly: true, Init: &yes, StopSignal: "SIGQUIT", StopGracePeriod: &grace,
	}
	spec := ContainerSpec{Project: p, Service: s, Name: "p-web-1", Number: 1, Labels: map[string]string{"b": "2", "a": "1"}}
	args, adjust, err := CreateArgs(spec)
	require.NoError(t, err)
	assert.Equal(t, []string{"create", "--name", "p-web-1", "--label", "a=1", "--label", "b=2",
		"--hostname", "h", "--user", "nobody", "--workdir", "/srv", "--tty", "--interactive",
		"--env", "A=1", "--env", "B=two words",
		"--network", "p_front", "--network-alias", "web", "--network-alias", "www", "--ip", "10.5.0.5",
		"--publish", "8080:80", "--publish", "127.0.0.1::53/udp", "--publish", "9000",
		"--expose", "81", "--expose", "82/udp", "--dns", "1.1.1.1", "--add-host", "db:10.0.0.2",
		"--volume", "/src/p/html:/www:ro",
		"--mount", "type=bind,source=/etc/hosts,target=/h",
		"--mount", "type=volume,source=p_data,target=/data,volume-nocopy",
		"--mount", "type=volume,target=/anon",
		"--mount", "type=tmpfs,target=/run,tmpfs-size=1048576,tmpfs-mode=1777",
		"--read-only", "--privileged", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD", "--init",
		"--memory", "67108864b", "--cpus", "1.5", "--pids-limit", "100",
		"busybox:1", "httpd", "-f", "-p", "80"}, args)

	var req engine.CreateRequest
	require.NoError(t, adjust(&req))
	assert.Equal(t, []string{"/bin/sh", "-c"}, req.Config.Entrypoint)
	assert.Equal(t, &engine.HealthConfig{Test: []string{"CMD-SHELL", "wget -q localhost"}, Interval: time.Second,
		Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4}, req.Config.Healthcheck)
	assert.Equal(t, engine.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, req.HostConfig.RestartPolicy)
	assert.Equal(t, "SIGQUIT", req.Config.StopSignal)
	require.NotNil(t, req.Config.StopTimeout)
	assert.Equal(t, 4, *req.Config.StopTimeout)
}

func TestCreateArgsNetworkModes(t *testing.T) {
	p := &model.Project{Name: "p", Services: []model.Service{{Name: "db"}}}
	for mode, want := range map[string]string{
		"":              "--network p_default --network-alias web busybox",
		"host":          "--network host busybox",
		"none":          "--network none busybox",
		"container:abc": "--network container:abc busybox",
		"service:db":    "--network container:p-db-1 busybox",
	} {
		s := &model.Service{Name: "web", Image: "busybox", NetworkMode: mode}
		args, _, err := CreateArgs(ContainerSpec{Project: p, Service: s, Name: "x"})
		require.NoError(t, err)
		assert.Equal(t, "create --name x "+want, strings.Join(args, " "), mode)
	}
	_, _, err := CreateArgs(ContainerSpec{Project: p, Service: &model.Service{Name: "web", NetworkMode: "service:nope"}})
	assert.EqualError(t, err, `service "web": network_mode service:nope: no such service`)
}

func TestCreateArgsDefaults(t *testing.T) {
	// No entrypoint, healthcheck, restart or stop settings: the request
	// keeps the image's; healthcheck disable is Docker's NONE.
	p := &model.Project{Name: "p"}
	s := &model.Service{Name: "web", Image: "busybox"}
	_, adjust, err := CreateArgs(ContainerSpec{Project: p, Service: s, Name: "x"})
	require.NoError(t, err)
	var req engine.CreateRequest
	require.NoError(t, adjust(&req))
	assert.Nil(t, req.Config.Entrypoint)
	assert.Nil(t, req.Config.Healthcheck)
	assert.Equal(t, engine.RestartPolicy{}, req.HostConfig.RestartPolicy)
	assert.Nil(t, req.Config.StopTimeout)

	s.Healthcheck = &model.Healthcheck{Disable: true}
	s.Entrypoint = []string{}
	_, adjust, err = CreateArgs(ContainerSpec{Project: p, Service: s, Name: "x"})
	require.NoError(t, err)
	require.NoError(t, adjust(&req))
	assert.Equal(t, []string{"NONE"}, req.Config.Healthcheck.Test)
	assert.Equal(t, []string{}, req.Config.Entrypoint, "entrypoint: [] clears the image's")
}

func TestRestartPolicy(t *testing.T) {
	for in, want := range map[string]engine.RestartPolicy{
		"": {}, "no": {}, "always": {Name: "always"}, "unless-stopped": {Name: "unless-stopped"},
		"on-failure": {Name: "on-failure"}, "on-failure:5": {Name: "on-failure", MaximumRetryCount: 5},
	} {
		got, err := restartPolicy(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for in, msg := range map[string]string{
		"always:3":     "maximum retry count cannot be used with restart policy 'always'",
		"on-failure:x": "invalid restart policy format: maximum retry count must be a positive integer",
		"sometimes":    "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
	} {
		_, err := restartPolicy(in)
		assert.EqualError(t, err, msg, in)
	}
}

func TestBuildArgs(t *testing.T) {
	v := "1"
	args := buildArgs(BuildSpec{Build: model.Build{Context: "/src/p/app", Dockerfile: "docker/Dockerfile.dev", Target: "dev",
		Args: map[string]*string{"B": nil, "A": &v}, Labels: map[string]string{"l": "x"}},
		Tags: []string{"p-app", "p-app:dev"}, NoCache: true, Pull: true})
	assert.Equal(t, []string{"build", "--tag", "p-app", "--tag", "p-app:dev", "--file", "/src/p/app/docker/Dockerfile.dev",
		"--target", "dev", "--build-arg", "A=1", "--build-arg", "B", "--label", "l=x", "--no-cache", "--pull", "/src/p/app"}, args)
	assert.Equal(t, []string{"build", "--tag", "x", "/c"}, buildArgs(BuildSpec{Build: model.Build{Context: "/c"}, Tags: []string{"x"}}))
}
