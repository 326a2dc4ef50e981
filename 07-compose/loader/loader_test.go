package loader

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/07-compose/model"
)

// project writes files (name → content) into a fresh directory named app
// and returns its path.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// load reads dir's compose file with the environment env.
func load(t *testing.T, dir string, env ...string) *model.Project {
	t.Helper()
	p, err := Load(context.Background(), Options{WorkingDir: dir, Environ: env})
	require.NoError(t, err)
	return p
}

func service(t *testing.T, p *model.Project, name string) model.Service {
	t.Helper()
	s, ok := p.Service(name)
	require.True(t, ok, "service %s in %v", name, p.Services)
	return *s
}

func ptr[T any](v T) *T { return &v }

// TestServiceFields reads every field of the model from a one-service
// file, in the short and the long form where compose has both.
func TestServiceFields(t *testing.T) {
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	tests := []struct {
		name  string
		body  string // the service `s`, indented by four spaces
		env   []string
		files map[string]string // more files in the project directory
		check func(t *testing.T, dir string, s model.Service)
	}{
		{name: "image", body: "image: busybox:1.36", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, "busybox:1.36", s.Image)
			assert.Nil(t, s.Build)
			assert.Equal(t, 1, s.Scale)
			assert.Nil(t, s.Command, "no command: the image's CMD")
			assert.Nil(t, s.Entrypoint)
		}},
		{name: "build short", body: "build: ./web", check: func(t *testing.T, dir string, s model.Service) {
			require.NotNil(t, s.Build)
			assert.Equal(t, filepath.Join(dir, "web"), s.Build.Context)
			assert.Equal(t, "Dockerfile", s.Build.Dockerfile)
			assert.Equal(t, "app-s", s.Image, "compose v2 names a built image PROJECT-SERVICE")
		}},
		{name: "build long", body: `build:
      context: web
      dockerfile: Dockerfile.dev
      args:
        VERSION: "1.2"
        FROM_ENV:
        MISSING:
      target: runtime
      labels: {a: b}
      tags: ["reg/web:extra"]
      no_cache: true
      pull: true`, env: []string{"FROM_ENV=yes"}, check: func(t *testing.T, dir string, s model.Service) {
			require.NotNil(t, s.Build)
			assert.Equal(t, model.Build{
				Context:    filepath.Join(dir, "web"),
				Dockerfile: "Dockerfile.dev",
				Args:       map[string]*string{"VERSION": ptr("1.2"), "FROM_ENV": ptr("yes")},
				Target:     "runtime",
				Labels:     map[string]string{"a": "b"},
				Tags:       []string{"reg/web:extra"},
				NoCache:    true,
				Pull:       true,
			}, *s.Build)
		}},
		{name: "build args list", body: "build:\n      context: .\n      args: [A=1, B]", env: []string{"B=2"}, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, map[string]*string{"A": ptr("1"), "B": ptr("2")}, s.Build.Args)
		}},
		{name: "build with image", body: "image: reg/web:1\n    build: .", check: func(t *testing.T, dir string, s model.Service) {
			assert.Equal(t, "reg/web:1", s.Image, "image: names the built image")
			assert.Equal(t, dir, s.Build.Context)
		}},
		{name: "command string", body: `image: b
    command: sh -c 'echo "hello world"'`, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"sh", "-c", `echo "hello world"`}, s.Command)
		}},
		{name: "command list", body: "image: b\n    command: [echo, a b]", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"echo", "a b"}, s.Command)
		}},
		{name: "command folded", body: "image: b\n    command: >\n      sh -c \"sleep 1\n      && echo up\"", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"sh", "-c", "sleep 1 && echo up"}, s.Command)
		}},
		{name: "command empty", body: "image: b\n    command: []", check: func(t *testing.T, _ string, s model.Service) {
			assert.NotNil(t, s.Command, "command: [] clears the image's CMD")
			assert.Empty(t, s.Command)
		}},
		{name: "entrypoint string and list", body: "image: b\n    entrypoint: /bin/sh -c\n    command: [\"echo hi\"]", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"/bin/sh", "-c"}, s.Entrypoint)
			assert.Equal(t, []string{"echo hi"}, s.Command)
		}},
		{name: "environment map", body: "image: b\n    environment:\n      B: 2\n      A: one\n      EMPTY: ''\n      FROM_SHELL:\n      UNSET:", env: []string{"FROM_SHELL=sh"}, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"A=one", "B=2", "EMPTY=", "FROM_SHELL=sh"}, s.Environment)
		}},
		{name: "environment list", body: "image: b\n    environment: [B=2, A=x=y, FROM_SHELL, UNSET]", env: []string{"FROM_SHELL=sh"}, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"A=x=y", "B=2", "FROM_SHELL=sh"}, s.Environment)
		}},
		{name: "env_file", body: "image: b\n    env_file: [a.env, {path: opt.env, required: false}]\n    environment: [B=from-environment]",
			files: map[string]string{"a.env": "# comment\nA=from-file\nB=from-file\nexport C=\"quoted value\"\n"},
			check: func(t *testing.T, _ string, s model.Service) {
				assert.Equal(t, []string{"A=from-file", "B=from-environment", "C=quoted value"}, s.Environment)
			}},
		{name: "env_file short", body: "image: b\n    env_file: a.env", files: map[string]string{"a.env": "A=1\n"}, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"A=1"}, s.Environment)
		}},
		{name: "ports short", body: `image: b
    ports:
      - "8080:80"
      - 127.0.0.1:5353:53/udp
      - "9000"
      - "8000-8001:7000-7001"`, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []model.Port{
				{Published: "8080", Target: "80", Protocol: "tcp"},
				{HostIP: "127.0.0.1", Published: "5353", Target: "53", Protocol: "udp"},
				{Target: "9000", Protocol: "tcp"},
				{Published: "8000", Target: "7000", Protocol: "tcp"},
				{Published: "8001", Target: "7001", Protocol: "tcp"},
			}, s.Ports)
		}},
		{name: "ports long", body: `image: b
    ports:
      - target: 80
        published: "8080"
        host_ip: 127.0.0.1
        protocol: udp
      - target: 81`, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []model.Port{
				{HostIP: "127.0.0.1", Published: "8080", Target: "80", Protocol: "udp"},
				{Target: "81", Protocol: "tcp"},
			}, s.Ports)
		}},
		{name: "expose", body: "image: b\n    expose: [\"80\", 53/udp, 8080]", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"80", "53/udp", "8080"}, s.Expose)
		}},
		{name: "volumes short", body: `image: b
    volumes:
      - data:/var/lib/data
      - ./html:/usr/share/html:ro
      - ~/cfg:/cfg
      - /abs:/abs:rw
      - /anon
volumes:
  data: {}`, check: func(t *testing.T, dir string, s model.Service) {
			assert.Equal(t, []model.Mount{
				{Type: "volume", Source: "data", Target: "/var/lib/data"},
				{Type: "bind", Source: filepath.Join(dir, "html"), Target: "/usr/share/html", ReadOnly: true, CreateHostPath: true},
				{Type: "bind", Source: filepath.Join(home, "cfg"), Target: "/cfg", CreateHostPath: true},
				{Type: "bind", Source: "/abs", Target: "/abs", CreateHostPath: true},
				{Type: "volume", Target: "/anon"},
			}, s.Volumes)
		}},
		{name: "volumes long", body: `image: b
    volumes:
      - type: volume
        source: data
        target: /data
        read_only: true
        volume: {nocopy: true}
      - type: bind
        source: ./src
        target: /src/
      - type: bind
        source: ./made
        target: /made
        bind: {create_host_path: true}
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 64m, mode: 01777}
volumes:
  data: {}`, check: func(t *testing.T, dir string, s model.Service) {
			assert.Equal(t, []model.Mount{
				{Type: "volume", Source: "data", Target: "/data", ReadOnly: true, NoCopy: true},
				{Type: "bind", Source: filepath.Join(dir, "src"), Target: "/src"},
				{Type: "bind", Source: filepath.Join(dir, "made"), Target: "/made", CreateHostPath: true},
				{Type: "tmpfs", Target: "/scratch", TmpfsSize: 64 << 20, TmpfsMode: 0o1777},
			}, s.Volumes)
		}},
		{name: "tmpfs string", body: "image: b\n    tmpfs: /run", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []model.Mount{{Type: "tmpfs", Target: "/run"}}, s.Volumes)
		}},
		{name: "tmpfs list after volumes", body: "image: b\n    volumes: [/v]\n    tmpfs: [\"/run:rw,size=1m,mode=755\", /tmp]", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []model.Mount{
				{Type: "volume", Target: "/v"},
				{Type: "tmpfs", Target: "/run", TmpfsSize: 1 << 20, TmpfsMode: 0o755},
				{Type: "tmpfs", Target: "/tmp"},
			}, s.Volumes)
		}},
		{name: "networks default", body: "image: b", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, map[string]model.ServiceNetwork{"default": {}}, s.Networks)
			assert.Equal(t, []string{"default"}, s.NetworkNames())
		}},
		{name: "networks list", body: "image: b\n    networks: [front, back]\nnetworks: {front: {}, back: {}}", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, map[string]model.ServiceNetwork{"front": {}, "back": {}}, s.Networks)
			assert.Equal(t, []string{"back", "front"}, s.NetworkNames(), "by name when no priority")
		}},
		{name: "networks long", body: `image: b
    networks:
      back:
        aliases: [api, api.local]
        ipv4_address: 172.28.0.10
      front:
        priority: 10
networks: {front: {}, back: {}}`, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, map[string]model.ServiceNetwork{
				"back":  {Aliases: []string{"api", "api.local"}, IPv4Address: "172.28.0.10"},
				"front": {Priority: 10},
			}, s.Networks)
			assert.Equal(t, []string{"front", "back"}, s.NetworkNames(), "the highest priority first")
		}},
		{name: "network_mode", body: "image: b\n    network_mode: host", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, "host", s.NetworkMode)
			assert.Empty(t, s.Networks, "network_mode: no networks")
		}},
		{name: "network_mode service", body: "image: b\n    network_mode: service:t\n  t:\n    image: b", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, "service:t", s.NetworkMode)
			assert.Equal(t, map[string]model.Dependency{"t": {Condition: "service_started", Required: true, Restart: true}}, s.DependsOn)
		}},
		{name: "names and process", body: `image: b
    container_name: my-web
    hostname: web.local
    user: "1000:1000"
    working_dir: /srv
    tty: true
    stdin_open: true`, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, "my-web", s.ContainerName)
			assert.Equal(t, "web.local", s.Hostname)
			assert.Equal(t, "1000:1000", s.User)
			assert.Equal(t, "/srv", s.WorkingDir)
			assert.True(t, s.Tty)
			assert.True(t, s.StdinOpen)
		}},
		{name: "labels map", body: "image: b\n    labels: {com.example.a: \"1\", b: x}", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, map[string]string{"com.example.a": "1", "b": "x"}, s.Labels)
		}},
		{name: "labels list", body: "image: b\n    labels: [a=1, b]", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, map[string]string{"a": "1", "b": ""}, s.Labels)
		}},
		{name: "restart", body: "image: b\n    restart: unless-stopped", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, "unless-stopped", s.Restart)
		}},
		{name: "restart on-failure", body: "image: b\n    restart: on-failure:3", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, "on-failure:3", s.Restart)
		}},
		{name: "deploy restart_policy", body: "image: b\n    restart: always\n    deploy:\n      restart_policy: {condition: on-failure, max_attempts: 2}", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, "on-failure:2", s.Restart, "deploy.restart_policy wins, as in compose")
		}},
		{name: "deploy restart_policy any", body: "image: b\n    deploy:\n      restart_policy: {condition: any}", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, "always", s.Restart)
		}},
		{name: "healthcheck list", body: `image: b
    healthcheck:
      test: ["CMD", "wget", "-q", "http://localhost/"]
      interval: 1m30s
      timeout: 10s
      retries: 5
      start_period: 2s
      start_interval: 500ms`, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, &model.Healthcheck{
				Test:          []string{"CMD", "wget", "-q", "http://localhost/"},
				Interval:      90 * time.Second,
				Timeout:       10 * time.Second,
				Retries:       5,
				StartPeriod:   2 * time.Second,
				StartInterval: 500 * time.Millisecond,
			}, s.Healthcheck)
		}},
		{name: "healthcheck string", body: "image: b\n    healthcheck:\n      test: wget -q http://localhost/ || exit 1", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, &model.Healthcheck{Test: []string{"CMD-SHELL", "wget -q http://localhost/ || exit 1"}}, s.Healthcheck)
		}},
		{name: "healthcheck disable", body: "image: b\n    healthcheck:\n      disable: true", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, &model.Healthcheck{Test: []string{"NONE"}, Disable: true}, s.Healthcheck)
		}},
		{name: "healthcheck NONE", body: "image: b\n    healthcheck:\n      test: [NONE]", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, &model.Healthcheck{Test: []string{"NONE"}, Disable: true}, s.Healthcheck)
		}},
		{name: "no healthcheck", body: "image: b", check: func(t *testing.T, _ string, s model.Service) {
			assert.Nil(t, s.Healthcheck, "nil: the image's HEALTHCHECK")
		}},
		{name: "depends_on short", body: "image: b\n    depends_on: [db]\n  db:\n    image: b", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, map[string]model.Dependency{"db": {Condition: "service_started", Required: true}}, s.DependsOn)
		}},
		{name: "depends_on long", body: `image: b
    depends_on:
      db:
        condition: service_healthy
        restart: true
      init:
        condition: service_completed_successfully
      cache:
        condition: service_started
        required: false
  db: {image: b}
  init: {image: b}
  cache: {image: b}`, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, map[string]model.Dependency{
				"db":    {Condition: "service_healthy", Required: true, Restart: true},
				"init":  {Condition: "service_completed_successfully", Required: true},
				"cache": {Condition: "service_started", Required: false},
			}, s.DependsOn)
		}},
		{name: "deploy resources", body: `image: b
    deploy:
      replicas: 3
      resources:
        limits: {cpus: "0.5", memory: 256M, pids: 100}
        reservations: {memory: 1M}`, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, model.Resources{Memory: 256 << 20, NanoCPUs: 5e8, Pids: 100}, s.Resources)
			assert.Equal(t, 3, s.Scale)
		}},
		{name: "service resources", body: "image: b\n    mem_limit: 1g\n    cpus: 1.5\n    pids_limit: 50", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, model.Resources{Memory: 1 << 30, NanoCPUs: 15e8, Pids: 50}, s.Resources)
		}},
		{name: "deploy limits and service ones", body: "image: b\n    mem_limit: 64m\n    deploy:\n      resources:\n        limits: {memory: 64m, pids: 7}", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, model.Resources{Memory: 64 << 20, Pids: 7}, s.Resources)
		}},
		{name: "scale", body: "image: b\n    scale: 2", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, 2, s.Scale)
		}},
		{name: "security", body: `image: b
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    privileged: true
    read_only: true
    init: true`, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"NET_ADMIN"}, s.CapAdd)
			assert.Equal(t, []string{"ALL"}, s.CapDrop)
			assert.True(t, s.Privileged)
			assert.True(t, s.ReadOnly)
			assert.Equal(t, ptr(true), s.Init)
		}},
		{name: "init false", body: "image: b\n    init: false", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, ptr(false), s.Init)
		}},
		{name: "stop", body: "image: b\n    stop_signal: SIGINT\n    stop_grace_period: 1m5s", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, "SIGINT", s.StopSignal)
			assert.Equal(t, ptr(65*time.Second), s.StopGracePeriod)
		}},
		{name: "no stop_grace_period", body: "image: b", check: func(t *testing.T, _ string, s model.Service) {
			assert.Nil(t, s.StopGracePeriod, "nil: the engine's default")
		}},
		{name: "extra_hosts list", body: "image: b\n    extra_hosts: [\"db:10.0.0.2\", \"gw=host-gateway\"]", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"db:10.0.0.2", "gw:host-gateway"}, s.ExtraHosts)
		}},
		{name: "extra_hosts map", body: "image: b\n    extra_hosts:\n      db: 10.0.0.2\n      v6: \"::1\"", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"db:10.0.0.2", "v6:::1"}, s.ExtraHosts)
		}},
		{name: "dns string", body: "image: b\n    dns: 10.0.0.53", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"10.0.0.53"}, s.DNS)
		}},
		{name: "dns list", body: "image: b\n    dns: [1.1.1.1, 8.8.8.8]", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"1.1.1.1", "8.8.8.8"}, s.DNS)
		}},
		{name: "pull_policy", body: "image: b\n    pull_policy: if_not_present", check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, "missing", s.PullPolicy, "compose-go's spelling of if_not_present")
		}},
		{name: "profiles active", body: "image: b\n    profiles: [debug]", env: []string{"COMPOSE_PROFILES=debug"}, check: func(t *testing.T, _ string, s model.Service) {
			assert.Equal(t, []string{"debug"}, s.Profiles)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"compose.yaml": "services:\n  s:\n    " + tt.body + "\n"}
			for k, v := range tt.files {
				files[k] = v
			}
			dir := project(t, files)
			p := load(t, dir, tt.env...)
			s := service(t, p, "s")
			assert.Equal(t, "s", s.Name)
			tt.check(t, dir, s)
		})
	}
}

func TestTopLevel(t *testing.T) {
	dir := project(t, map[string]string{"compose.yaml": `
services:
  s:
    image: b
    networks: [default, back, ext, mv, named]
    volumes: [data:/d, ext:/e, bound:/b, named:/n]
networks:
  back:
    internal: true
    labels: [tier=back]
    ipam:
      config:
        - subnet: 172.28.0.0/16
          gateway: 172.28.0.1
          ip_range: 172.28.5.0/24
  ext:
    external: true
  mv:
    driver: macvlan
    driver_opts: {parent: veth0}
  named:
    name: my-net
  unused: {}
volumes:
  data: {}
  ext:
    external: true
    name: shared-data
  bound:
    driver_opts: {type: none, o: bind, device: /srv/data}
  named:
    name: my-vol
    labels: {a: b}
  unused:
`})
	p := load(t, dir)
	assert.Equal(t, map[string]model.Network{
		"default": {Name: "app_default", Driver: "bridge"},
		"back": {Name: "app_back", Driver: "bridge", Internal: true, Labels: map[string]string{"tier": "back"},
			Subnet: "172.28.0.0/16", Gateway: "172.28.0.1", IPRange: "172.28.5.0/24"},
		"ext":   {Name: "ext", External: true},
		"mv":    {Name: "app_mv", Driver: "macvlan", DriverOpts: map[string]string{"parent": "veth0"}},
		"named": {Name: "my-net", Driver: "bridge"},
	}, p.Networks, "networks no service uses are left out, as compose does")
	assert.Equal(t, map[string]model.Volume{
		"data":  {Name: "app_data", Driver: "local"},
		"ext":   {Name: "shared-data", External: true},
		"bound": {Name: "app_bound", Driver: "local", DriverOpts: map[string]string{"type": "none", "o": "bind", "device": "/srv/data"}},
		"named": {Name: "my-vol", Driver: "local", Labels: map[string]string{"a": "b"}},
	}, p.Volumes)
}

func TestProjectFields(t *testing.T) {
	dir := project(t, map[string]string{"compose.yaml": "services:\n  web: {image: b}\n  db: {image: b}\n  api: {image: b}\n"})
	p := load(t, dir)
	assert.Equal(t, "app", p.Name)
	assert.Equal(t, dir, p.WorkingDir)
	assert.Equal(t, []string{filepath.Join(dir, "compose.yaml")}, p.Files)
	var names []string
	for _, s := range p.Services {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"api", "db", "web"}, names, "services sorted by name")
	assert.Empty(t, p.Warnings)
	assert.Equal(t, "app-web-1", p.ContainerName(&p.Services[2], 1))
}

func TestInterpolation(t *testing.T) {
	tests := []struct {
		name  string
		value string
		env   []string
		want  string
	}{
		{"braces", "${TAG}", []string{"TAG=1.2"}, "1.2"},
		{"bare", "$TAG-x", []string{"TAG=1.2"}, "1.2-x"},
		{"default unset", "${TAG:-latest}", nil, "latest"},
		{"default empty", "${TAG:-latest}", []string{"TAG="}, "latest"},
		{"dash default empty kept", "${TAG-latest}", []string{"TAG="}, ""},
		{"dash default unset", "${TAG-latest}", nil, "latest"},
		{"set", "${TAG:-latest}", []string{"TAG=3"}, "3"},
		{"alternative", "${TAG:+set}", []string{"TAG=3"}, "set"},
		{"required present", "${TAG:?need a tag}", []string{"TAG=4"}, "4"},
		{"escaped", "$${TAG}", []string{"TAG=4"}, "${TAG}"},
		{"nested default", "${A:-${B:-deep}}", nil, "deep"},
		{"unset is empty", "x${NOPE}y", nil, "xy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, map[string]string{"compose.yaml": "services:\n  s:\n    image: b\n    environment:\n      V: \"" + tt.value + "\"\n"})
			s := service(t, load(t, dir, tt.env...), "s")
			assert.Equal(t, []string{"V=" + tt.want}, s.Environment)
		})
	}
}

func TestInterpolationRequired(t *testing.T) {
	dir := project(t, map[string]string{"compose.yaml": "services:\n  s:\n    image: ${IMAGE:?set IMAGE to the image to run}\n"})
	_, err := Load(context.Background(), Options{WorkingDir: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "required variable IMAGE is missing a value: set IMAGE to the image to run")
	assert.Contains(t, err.Error(), "services.s.image")
}

func TestDotEnv(t *testing.T) {
	const file = "services:\n  s:\n    image: busybox:${TAG}\n    environment: [\"USER=${USERNAME:-nobody}\"]\n"
	t.Run(".env in the project directory", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": file, ".env": "TAG=1.36\nUSERNAME=alice\n"})
		s := service(t, load(t, dir), "s")
		assert.Equal(t, "busybox:1.36", s.Image)
		assert.Equal(t, []string{"USER=alice"}, s.Environment)
	})
	t.Run("the shell wins over .env", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": file, ".env": "TAG=1.36\nUSERNAME=alice\n"})
		s := service(t, load(t, dir, "USERNAME=bob"), "s")
		assert.Equal(t, []string{"USER=bob"}, s.Environment)
	})
	t.Run(".env is not the containers' environment", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": "services:\n  s: {image: b}\n", ".env": "SECRET=1\n"})
		assert.Empty(t, service(t, load(t, dir), "s").Environment)
	})
	t.Run("--env-file instead of .env", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": file, ".env": "TAG=dotenv\n", "prod.env": "TAG=prod\n", "more.env": "USERNAME=carol\n"})
		p, err := Load(context.Background(), Options{WorkingDir: dir, EnvFiles: []string{filepath.Join(dir, "prod.env"), filepath.Join(dir, "more.env")}})
		require.NoError(t, err)
		s := service(t, p, "s")
		assert.Equal(t, "busybox:prod", s.Image)
		assert.Equal(t, []string{"USER=carol"}, s.Environment)
	})
	t.Run("a missing --env-file", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": file})
		_, err := Load(context.Background(), Options{WorkingDir: dir, EnvFiles: []string{filepath.Join(dir, "nope.env")}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "nope.env")
	})
	t.Run(".env of the file's directory with -f", func(t *testing.T) {
		dir := project(t, map[string]string{"sub/compose.yaml": file, "sub/.env": "TAG=sub\n"})
		p, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "sub", "compose.yaml")}})
		require.NoError(t, err)
		assert.Equal(t, "busybox:sub", service(t, p, "s").Image)
		assert.Equal(t, "sub", p.Name)
	})
	t.Run("COMPOSE_PROJECT_NAME from .env", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": file, ".env": "TAG=1\nCOMPOSE_PROJECT_NAME=fromdotenv\n"})
		assert.Equal(t, "fromdotenv", load(t, dir).Name)
	})
}

func TestProjectName(t *testing.T) {
	const file = "services:\n  s: {image: b}\n"
	tests := []struct {
		name string
		dir  string // the project directory's base name
		yaml string
		opt  string   // -p
		env  []string // COMPOSE_PROJECT_NAME
		want string
		err  string
	}{
		{name: "directory", dir: "shop", yaml: file, want: "shop"},
		{name: "directory normalised", dir: "My Shop.v2_x-Y", yaml: file, want: "myshopv2_x-y"},
		{name: "directory leading symbols", dir: "-_.Web", yaml: file, want: "web"},
		{name: "name in the file", dir: "shop", yaml: "name: store\n" + file, want: "store"},
		{name: "name interpolated", dir: "shop", yaml: "name: ${N}\n" + file, env: []string{"N=fromvar"}, want: "fromvar"},
		{name: "env wins over the file", dir: "shop", yaml: "name: store\n" + file, env: []string{"COMPOSE_PROJECT_NAME=envname"}, want: "envname"},
		{name: "-p wins over all", dir: "shop", yaml: "name: store\n" + file, env: []string{"COMPOSE_PROJECT_NAME=envname"}, opt: "flag", want: "flag"},
		{name: "-p invalid", dir: "shop", yaml: file, opt: "My App", err: `invalid project name "My App": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`},
		{name: "name in the file normalised", dir: "shop", yaml: "name: My App\n" + file, want: "myapp"},
		{name: "env invalid", dir: "shop", yaml: file, env: []string{"COMPOSE_PROJECT_NAME=Bad!"}, err: `invalid project name "Bad!"`},
		{name: "directory with nothing usable", dir: "___", yaml: file, err: "project name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.dir)
			require.NoError(t, os.MkdirAll(dir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(tt.yaml), 0o644))
			p, err := Load(context.Background(), Options{WorkingDir: dir, ProjectName: tt.opt, Environ: tt.env})
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.Name)
			assert.Equal(t, tt.want+"_default", p.Networks["default"].Name)
		})
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"shop": "shop", "My Shop.v2": "myshopv2", "-_.Web": "web", "a_b-c": "a_b-c", "___": "", "Ünïcode1": "ncode1",
	} {
		assert.Equal(t, want, NormalizeName(in), in)
	}
}

func TestFiles(t *testing.T) {
	const a = "services:\n  s: {image: a}\n"
	t.Run("compose.yaml first of the default names", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": a, "docker-compose.yml": "services:\n  other: {image: b}\n"})
		p := load(t, dir)
		assert.Equal(t, []string{filepath.Join(dir, "compose.yaml")}, p.Files)
		require.Len(t, p.Warnings, 2, "compose warns about the two files")
		assert.Contains(t, p.Warnings[0], "Found multiple config files with supported names")
		assert.Equal(t, "Using "+filepath.Join(dir, "compose.yaml"), p.Warnings[1])
	})
	for _, name := range []string{"compose.yml", "docker-compose.yml", "docker-compose.yaml"} {
		t.Run(name, func(t *testing.T) {
			dir := project(t, map[string]string{name: a})
			assert.Equal(t, []string{filepath.Join(dir, name)}, load(t, dir).Files)
		})
	}
	t.Run("override file", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": a, "compose.override.yaml": "services:\n  s: {image: override}\n"})
		p := load(t, dir)
		assert.Equal(t, []string{filepath.Join(dir, "compose.yaml"), filepath.Join(dir, "compose.override.yaml")}, p.Files)
		assert.Equal(t, "override", service(t, p, "s").Image)
	})
	t.Run("parent directories", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": "services:\n  s: {image: \"${X:-none}\"}\n", "src/deep/.keep": "", ".env": "X=parent\n"})
		t.Chdir(filepath.Join(dir, "src", "deep"))
		p, err := Load(context.Background(), Options{})
		require.NoError(t, err)
		assert.Equal(t, []string{filepath.Join(dir, "compose.yaml")}, p.Files)
		// the project directory is the file's, and so is the name
		assert.Equal(t, dir, p.WorkingDir)
		assert.Equal(t, "app", p.Name)
		assert.Equal(t, "parent", service(t, p, "s").Image, "the .env beside the file")
	})
	t.Run("parent directories with --project-directory", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": a, "src/deep/.keep": ""})
		p := load(t, filepath.Join(dir, "src", "deep"))
		assert.Equal(t, []string{filepath.Join(dir, "compose.yaml")}, p.Files)
		// --project-directory names the project and is where relative
		// paths start, wherever the file was found
		assert.Equal(t, filepath.Join(dir, "src", "deep"), p.WorkingDir)
		assert.Equal(t, "deep", p.Name)
	})
	t.Run("none", func(t *testing.T) {
		dir := project(t, nil)
		_, err := Load(context.Background(), Options{WorkingDir: dir})
		require.Error(t, err)
		assert.Equal(t, "no configuration file provided: not found", err.Error())
		assert.True(t, IsNoConfig(err))
	})
	t.Run("-f missing", func(t *testing.T) {
		dir := project(t, nil)
		_, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "nope.yaml")}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "nope.yaml")
		assert.ErrorIs(t, err, os.ErrNotExist)
		assert.False(t, IsNoConfig(err), "a file asked for and missing is an error")
	})
	t.Run("COMPOSE_FILE", func(t *testing.T) {
		dir := project(t, map[string]string{"one.yaml": a, "two.yaml": "services:\n  t: {image: t}\n", "compose.yaml": "services:\n  ignored: {image: x}\n"})
		p := load(t, dir, "COMPOSE_FILE="+filepath.Join(dir, "one.yaml")+":"+filepath.Join(dir, "two.yaml"))
		assert.Equal(t, []string{filepath.Join(dir, "one.yaml"), filepath.Join(dir, "two.yaml")}, p.Files)
		assert.Len(t, p.Services, 2)
	})
	t.Run("-f merged in order", func(t *testing.T) {
		dir := project(t, map[string]string{
			"base.yaml": `services:
  web:
    image: web:1
    command: [serve]
    environment: {A: base, B: base}
    ports: ["8080:80"]
    labels: {tier: web}
  db:
    image: db:1
`,
			"sub/prod.yaml": `services:
  web:
    image: web:2
    environment: {B: prod, C: prod}
    ports: ["8443:443"]
    volumes: [./data:/data]
  cache:
    image: cache:1
`,
		})
		p, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "base.yaml"), filepath.Join(dir, "sub", "prod.yaml")}})
		require.NoError(t, err)
		assert.Equal(t, "app", p.Name, "the name comes from the first file's directory")
		assert.Equal(t, dir, p.WorkingDir)
		assert.Len(t, p.Services, 3)
		web := service(t, p, "web")
		assert.Equal(t, "web:2", web.Image, "a scalar is overridden")
		assert.Equal(t, []string{"serve"}, web.Command, "kept where the override says nothing")
		assert.Equal(t, []string{"A=base", "B=prod", "C=prod"}, web.Environment, "mappings merged key by key")
		assert.Equal(t, []model.Port{
			{Published: "8080", Target: "80", Protocol: "tcp"},
			{Published: "8443", Target: "443", Protocol: "tcp"},
		}, web.Ports, "ports appended")
		// relative paths of every file start at the project directory
		require.Len(t, web.Volumes, 1)
		assert.Equal(t, filepath.Join(dir, "data"), web.Volumes[0].Source)
	})
	t.Run("--project-directory", func(t *testing.T) {
		dir := project(t, map[string]string{"files/compose.yaml": "services:\n  s:\n    image: b\n    volumes: [./x:/x]\n", "proj/.env": ""})
		p, err := Load(context.Background(), Options{WorkingDir: filepath.Join(dir, "proj"), Files: []string{filepath.Join(dir, "files", "compose.yaml")}})
		require.NoError(t, err)
		assert.Equal(t, "proj", p.Name)
		assert.Equal(t, filepath.Join(dir, "proj", "x"), service(t, p, "s").Volumes[0].Source)
	})
}

func TestProfiles(t *testing.T) {
	const file = `services:
  web: {image: b}
  debug:
    image: b
    profiles: [debug]
  tools:
    image: b
    profiles: [tools, debug]
  admin:
    image: b
    profiles: [admin]
    networks: [adminnet]
networks:
  adminnet: {}
`
	names := func(p *model.Project) []string {
		var n []string
		for _, s := range p.Services {
			n = append(n, s.Name)
		}
		return n
	}
	tests := []struct {
		name         string
		profiles     []string
		env          []string
		want, hidden []string
	}{
		{"none", nil, nil, []string{"web"}, []string{"admin", "debug", "tools"}},
		{"--profile", []string{"debug"}, nil, []string{"debug", "tools", "web"}, []string{"admin"}},
		{"two", []string{"tools", "admin"}, nil, []string{"admin", "tools", "web"}, []string{"debug"}},
		{"COMPOSE_PROFILES", nil, []string{"COMPOSE_PROFILES=admin, tools"}, []string{"admin", "tools", "web"}, []string{"debug"}},
		{"--profile wins", []string{"debug"}, []string{"COMPOSE_PROFILES=admin"}, []string{"debug", "tools", "web"}, []string{"admin"}},
		{"all", []string{"*"}, nil, []string{"admin", "debug", "tools", "web"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, map[string]string{"compose.yaml": file})
			p, err := Load(context.Background(), Options{WorkingDir: dir, Profiles: tt.profiles, Environ: tt.env})
			require.NoError(t, err)
			assert.Equal(t, tt.want, names(p))
			assert.Equal(t, tt.hidden, p.Disabled)
			_, hasAdminNet := p.Networks["adminnet"]
			assert.Equal(t, contains(tt.want, "admin"), hasAdminNet, "a hidden service's network is not made")
		})
	}
	t.Run("a service depending on a hidden one", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: b\n    depends_on: [db]\n  db:\n    image: b\n    profiles: [db]\n"})
		_, err := Load(context.Background(), Options{WorkingDir: dir})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `depends on undefined service "db"`)
	})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestVersionObsolete(t *testing.T) {
	dir := project(t, map[string]string{"docker-compose.yml": "version: \"3.8\"\nservices:\n  s: {image: b}\n"})
	file := filepath.Join(dir, "docker-compose.yml")
	want := file + ": the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion"
	for i := 0; i < 2; i++ { // every load says it (compose-go's logrus warning is once per process)
		var stderr bytes.Buffer
		p, err := Load(context.Background(), Options{WorkingDir: dir, Stderr: &stderr})
		require.NoError(t, err)
		assert.Equal(t, []string{want}, p.Warnings)
		assert.Equal(t, "WARN[0000] "+want+"\n", stderr.String())
		assert.Len(t, p.Services, 1)
	}
}

// TestErrors: a broken file is refused with compose-go's message, and the
// file and the line where compose-go's message leaves them out.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error
		line       int      // FileError.Line, 0: not a FileError
	}{
		{name: "yaml syntax", yaml: "services:\n  web:\n    image: b\n   ports: [80]\n",
			want: []string{"compose.yaml: yaml:", "line 3, column 4: did not find expected key"}},
		{name: "tab indentation", yaml: "services:\n\tweb:\n", want: []string{"compose.yaml: yaml:", "line 2"}},
		{name: "unknown key", yaml: "services:\n  web:\n    image: b\n    imagee: c\n",
			want: []string{"validating ", "compose.yaml: line 4: services.web additional properties 'imagee' not allowed"}, line: 4},
		{name: "wrong type", yaml: "services:\n  web:\n    image: b\n    healthcheck:\n      interval: 10\n",
			want: []string{"compose.yaml: line 5: services.web.healthcheck.interval must be a string"}, line: 5},
		{name: "in a list", yaml: "services:\n  web:\n    image: b\n    ports:\n      - 80\n      - {target: 80, bogus: 1}\n",
			want: []string{"compose.yaml: line 6: services.web.ports.1 additional properties 'bogus' not allowed"}, line: 6},
		{name: "top-level key", yaml: "service:\n  web: {image: b}\n",
			want: []string{"compose.yaml: line 1: additional properties 'service' not allowed"}, line: 1},
		{name: "not a mapping", yaml: "- a\n- b\n", want: []string{"compose.yaml: yaml:", "cannot construct !!seq"}},
		{name: "no image", yaml: "services:\n  web: {}\n", want: []string{`service "web" has neither an image nor a build context specified`}},
		{name: "undefined volume", yaml: "services:\n  web:\n    image: b\n    volumes: [nope:/x]\n", want: []string{`service "web" refers to undefined volume nope`}},
		{name: "undefined network", yaml: "services:\n  web:\n    image: b\n    networks: [nope]\n", want: []string{`service "web" refers to undefined network nope`}},
		{name: "undefined dependency", yaml: "services:\n  web:\n    image: b\n    depends_on: [db]\n", want: []string{`service "web" depends on undefined service "db"`}},
		{name: "bad port", yaml: "services:\n  web:\n    image: b\n    ports: [\"x:y\"]\n", want: []string{"invalid containerPort: y"}},
		{name: "bad duration", yaml: "services:\n  web:\n    image: b\n    stop_grace_period: soon\n", want: []string{"soon"}},
		{name: "bad tmpfs", yaml: "services:\n  web:\n    image: b\n    tmpfs: [\"/run:size=lots\"]\n", want: []string{`service "web": tmpfs "/run:size=lots": size`}},
		{name: "relative tmpfs", yaml: "services:\n  web:\n    image: b\n    tmpfs: [run]\n", want: []string{"must be absolute"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, map[string]string{"compose.yaml": tt.yaml})
			_, err := Load(context.Background(), Options{WorkingDir: dir})
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			var fe *FileError
			if tt.line > 0 {
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tt.line, fe.Line)
				assert.Equal(t, filepath.Join(dir, "compose.yaml"), fe.File)
				assert.NotNil(t, errorsUnwrap(fe), "compose-go's error is kept")
			}
		})
	}
	t.Run("the broken one of two files", func(t *testing.T) {
		dir := project(t, map[string]string{"a.yaml": "services:\n  web: {image: b}\n", "b.yaml": "services:\n  web:\n    image: [\n"})
		_, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), filepath.Join(dir, "b.yaml")+": yaml:")
	})
	t.Run("a cycle", func(t *testing.T) {
		dir := project(t, map[string]string{"compose.yaml": "services:\n  a:\n    image: b\n    depends_on: [b]\n  b:\n    image: b\n    depends_on: [a]\n"})
		_, err := Load(context.Background(), Options{WorkingDir: dir})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "dependency cycle detected")
	})
}

func errorsUnwrap(e *FileError) error { return e.Unwrap() }

func TestYAML(t *testing.T) {
	dir := project(t, map[string]string{"compose.yaml": `version: "3"
services:
  web:
    build: ./web
    ports: ["8080:80"]
    environment: ["GREETING=hi ${USERNAME}"]
    env_file: [web.env]
    depends_on:
      db: {condition: service_healthy}
  db:
    image: db:1
    volumes: [data:/var/lib/db]
    healthcheck:
      test: exit 0
      interval: 200ms
volumes:
  data: {}
networks:
  unused: {}
`, "web.env": "FROM_FILE=1\n"})
	p := load(t, dir, "USERNAME=alice")
	out, err := YAML(p)
	require.NoError(t, err)
	s := string(out)
	assert.True(t, strings.HasPrefix(s, "name: app\nservices:\n"), s)
	for _, want := range []string{
		"GREETING: hi alice", "FROM_FILE: \"1\"", "context: " + filepath.Join(dir, "web"),
		"name: app_default", "name: app_data", "interval: 200ms", "condition: service_healthy",
	} {
		assert.Contains(t, s, want)
	}
	for _, absent := range []string{"version", "env_file", "unused", "${"} {
		assert.NotContains(t, s, absent)
	}
	// `compose config`'s output is a compose file that means the same.
	again := project(t, map[string]string{"compose.yaml": s})
	q := load(t, again)
	require.Len(t, q.Services, len(p.Services))
	for i := range p.Services {
		a, b := p.Services[i], q.Services[i]
		assert.Equal(t, a, b)
		assert.Equal(t, model.ConfigHash(a), model.ConfigHash(b))
	}
	assert.Equal(t, p.Networks, q.Networks)
	assert.Equal(t, p.Volumes, q.Volumes)

	_, err = YAML(&model.Project{Name: "x"})
	assert.Error(t, err, "a project the loader did not read")
}

// TestConfigHashFromFiles is lab 07.4 seen from a compose file: editing
// what only builds, scales or orders a service keeps its hash (so `up`
// keeps its containers), editing what a container is changes it.
func TestConfigHashFromFiles(t *testing.T) {
	const base = `services:
  web:
    build:
      context: .
      args: {V: "1"}
    environment: [A=1]
    depends_on: [db]
  db:
    image: db:1
`
	hash := func(yaml string) string {
		t.Helper()
		return model.ConfigHash(service(t, load(t, project(t, map[string]string{"compose.yaml": yaml})), "web"))
	}
	h := hash(base)
	assert.Len(t, h, 64)
	assert.Equal(t, h, hash(base), "the same file, the same hash")
	same := map[string]string{
		"build args":  strings.Replace(base, `V: "1"`, `V: "2"`, 1),
		"build cache": strings.Replace(base, "context: .", "context: .\n      no_cache: true", 1),
		"scale":       strings.Replace(base, "environment:", "scale: 3\n    environment:", 1),
		"depends_on":  strings.Replace(base, "depends_on: [db]", "depends_on: {db: {condition: service_healthy}}", 1),
		"pull_policy": strings.Replace(base, "environment:", "pull_policy: always\n    environment:", 1),
		"key order":   strings.Replace(base, "    environment: [A=1]\n    depends_on: [db]\n", "    depends_on: [db]\n    environment: [A=1]\n", 1),
	}
	for name, y := range same {
		require.NotEqual(t, base, y, name)
		assert.Equal(t, h, hash(y), "%s alone does not recreate", name)
	}
	changed := map[string]string{
		"environment": strings.Replace(base, "A=1", "A=2", 1),
		"image":       strings.Replace(base, "build:", "image: web:2\n    build:", 1),
		"ports":       strings.Replace(base, "environment:", "ports: [\"80:80\"]\n    environment:", 1),
		"restart":     strings.Replace(base, "environment:", "restart: always\n    environment:", 1),
	}
	for name, y := range changed {
		assert.NotEqual(t, h, hash(y), "a change of %s recreates", name)
	}
}

func TestConcurrentLoads(t *testing.T) {
	dir := project(t, map[string]string{"compose.yaml": "version: '3'\nservices:\n  s: {image: b}\n"})
	errs := make(chan error, 8)
	for i := 0; i < cap(errs); i++ {
		go func() {
			p, err := Load(context.Background(), Options{WorkingDir: dir})
			if err == nil && len(p.Warnings) != 1 {
				err = assert.AnError
			}
			errs <- err
		}()
	}
	for i := 0; i < cap(errs); i++ {
		require.NoError(t, <-errs)
	}
}

// FuzzLoad: whatever the file holds, Load returns a project or an error
// (no panic), and a project it returns prints as YAML, hashes, and reads
// back from that YAML as the same services.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"services:\n  s: {image: b}\n",
		"version: '3'\nservices:\n  web:\n    build: .\n    ports: [\"8080:80\"]\n    volumes: [./d:/d, data:/x]\n    tmpfs: /run\nvolumes:\n  data: {}\n",
		"services:\n  a:\n    image: b\n    depends_on: {c: {condition: service_healthy}}\n    healthcheck: {test: exit 0, interval: 1s}\n  c: {image: c}\n",
		"services:\n  s:\n    image: ${X:-b}\n    environment: {A: $$B}\n    command: sh -c 'echo a'\n",
		"services:\n  s:\n    image: b\n    networks: {n: {aliases: [x], ipv4_address: 10.0.0.2}}\nnetworks:\n  n:\n    ipam: {config: [{subnet: 10.0.0.0/24}]}\n",
		"services:\n  s:\n    image: b\n    deploy: {resources: {limits: {memory: 1g, cpus: '0.5'}}, restart_policy: {condition: any}}\n",
		"name: x\nservices:\n  s: &a {image: b}\n  t: *a\n",
		"services: [",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, yaml string) {
		dir := filepath.Join(t.TempDir(), "fuzz")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(yaml), 0o644))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p, err := Load(ctx, Options{WorkingDir: dir})
		if err != nil {
			return
		}
		out, err := YAML(p)
		require.NoError(t, err)
		for _, s := range p.Services {
			require.Len(t, model.ConfigHash(s), 64)
		}
		again := filepath.Join(t.TempDir(), "fuzz")
		require.NoError(t, os.MkdirAll(again, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(again, "compose.yaml"), out, 0o644))
		q, err := Load(ctx, Options{WorkingDir: again})
		require.NoError(t, err, "compose config's output reads back:\n%s", out)
		require.Len(t, q.Services, len(p.Services))
	})
}

func TestIncludeAndExtends(t *testing.T) {
	dir := project(t, map[string]string{
		"compose.yaml": `include:
  - db/compose.yaml
services:
  web:
    extends: {file: common.yaml, service: base}
    image: web:1
    depends_on: [db]
`,
		"common.yaml":     "services:\n  base:\n    image: base\n    environment: [A=1]\n    volumes: [./shared:/shared]\n",
		"db/compose.yaml": "services:\n  db:\n    image: db:1\n    volumes: [./data:/data]\n",
	})
	p := load(t, dir)
	web := service(t, p, "web")
	assert.Equal(t, "web:1", web.Image)
	assert.Equal(t, []string{"A=1"}, web.Environment, "extends: takes the base service's fields")
	assert.Equal(t, filepath.Join(dir, "shared"), web.Volumes[0].Source)
	db := service(t, p, "db")
	assert.Equal(t, filepath.Join(dir, "db", "data"), db.Volumes[0].Source, "an included file's paths start at its own directory")
	_, ok := p.Service("base")
	assert.False(t, ok, "the extended file's services are not the project's")
}
