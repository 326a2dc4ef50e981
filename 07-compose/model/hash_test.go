package model

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptr[T any](v T) *T { return &v }

// base is a service with every field set, so each test case can change one.
func base() Service {
	return Service{
		Name:  "web",
		Image: "app-web",
		Build: &Build{Context: "/src", Dockerfile: "Dockerfile", Args: map[string]*string{"V": ptr("1")},
			Target: "run", Labels: map[string]string{"l": "1"}, Tags: []string{"t"}},
		PullPolicy:      "missing",
		Scale:           1,
		Command:         []string{"serve", "--port", "80"},
		Entrypoint:      []string{"/entry"},
		Environment:     []string{"A=1", "B=2"},
		Labels:          map[string]string{"tier": "web", "team": "a"},
		ContainerName:   "",
		Hostname:        "web",
		User:            "1000",
		WorkingDir:      "/srv",
		Ports:           []Port{{Published: "8080", Target: "80", Protocol: "tcp"}},
		Expose:          []string{"81"},
		Volumes:         []Mount{{Type: "volume", Source: "data", Target: "/data"}},
		Networks:        map[string]ServiceNetwork{"default": {}, "back": {Aliases: []string{"api"}}},
		DNS:             []string{"10.0.0.53"},
		ExtraHosts:      []string{"db:10.0.0.2"},
		Restart:         "unless-stopped",
		Healthcheck:     &Healthcheck{Test: []string{"CMD-SHELL", "true"}, Interval: time.Second, Retries: 3},
		DependsOn:       map[string]Dependency{"db": {Condition: "service_started", Required: true}},
		Resources:       Resources{Memory: 64 << 20},
		CapAdd:          []string{"NET_ADMIN"},
		Init:            ptr(true),
		StopSignal:      "SIGTERM",
		StopGracePeriod: ptr(5 * time.Second),
		Profiles:        []string{"web"},
	}
}

// TestConfigHashIgnores is lab 07.4: what does not change a container
// (how its image is built, when it is pulled, how many there are, the
// order of start-up, the profiles, the service's key) leaves the hash as
// it is, so `up` keeps the container.
func TestConfigHashIgnores(t *testing.T) {
	h := ConfigHash(base())
	tests := map[string]func(s *Service){
		"name":           func(s *Service) { s.Name = "frontend" },
		"build args":     func(s *Service) { s.Build.Args["V"] = ptr("2") },
		"build context":  func(s *Service) { s.Build = &Build{Context: "/elsewhere"} },
		"no build":       func(s *Service) { s.Build = nil },
		"build no_cache": func(s *Service) { s.Build.NoCache = true },
		"pull_policy":    func(s *Service) { s.PullPolicy = "always" },
		"scale":          func(s *Service) { s.Scale = 3 },
		"depends_on": func(s *Service) {
			s.DependsOn = map[string]Dependency{"db": {Condition: "service_healthy", Required: true}}
		},
		"no depends_on":   func(s *Service) { s.DependsOn = nil },
		"another profile": func(s *Service) { s.Profiles = []string{"web", "debug"} },
		"no profiles":     func(s *Service) { s.Profiles = nil },
		"everything above": func(s *Service) {
			*s = Service{Name: "x", Image: s.Image, Command: s.Command, Entrypoint: s.Entrypoint, Environment: s.Environment, Labels: s.Labels, Hostname: s.Hostname, User: s.User, WorkingDir: s.WorkingDir, Ports: s.Ports, Expose: s.Expose, Volumes: s.Volumes, Networks: s.Networks, DNS: s.DNS, ExtraHosts: s.ExtraHosts, Restart: s.Restart, Healthcheck: s.Healthcheck, Resources: s.Resources, CapAdd: s.CapAdd, Init: s.Init, StopSignal: s.StopSignal, StopGracePeriod: s.StopGracePeriod}
		},
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			s := base()
			change(&s)
			assert.Equal(t, h, ConfigHash(s), "a change of %s alone must not recreate the container", name)
		})
	}
}

// TestConfigHashChanges: whatever a container is made of changes the hash.
func TestConfigHashChanges(t *testing.T) {
	h := ConfigHash(base())
	tests := map[string]func(s *Service){
		"image":             func(s *Service) { s.Image = "app-web:2" },
		"command":           func(s *Service) { s.Command = []string{"serve"} },
		"command cleared":   func(s *Service) { s.Command = []string{} },
		"command default":   func(s *Service) { s.Command = nil },
		"entrypoint":        func(s *Service) { s.Entrypoint = nil },
		"environment":       func(s *Service) { s.Environment = []string{"A=1", "B=3"} },
		"labels":            func(s *Service) { s.Labels = map[string]string{"tier": "web"} },
		"container_name":    func(s *Service) { s.ContainerName = "w" },
		"hostname":          func(s *Service) { s.Hostname = "w" },
		"user":              func(s *Service) { s.User = "0" },
		"working_dir":       func(s *Service) { s.WorkingDir = "/" },
		"tty":               func(s *Service) { s.Tty = true },
		"stdin_open":        func(s *Service) { s.StdinOpen = true },
		"ports":             func(s *Service) { s.Ports[0].Published = "8081" },
		"expose":            func(s *Service) { s.Expose = nil },
		"volumes":           func(s *Service) { s.Volumes[0].ReadOnly = true },
		"networks":          func(s *Service) { s.Networks = map[string]ServiceNetwork{"default": {}} },
		"aliases":           func(s *Service) { s.Networks["back"] = ServiceNetwork{Aliases: []string{"api2"}} },
		"network_mode":      func(s *Service) { s.NetworkMode = "host" },
		"dns":               func(s *Service) { s.DNS = nil },
		"extra_hosts":       func(s *Service) { s.ExtraHosts = []string{"db:10.0.0.3"} },
		"restart":           func(s *Service) { s.Restart = "always" },
		"healthcheck":       func(s *Service) { s.Healthcheck.Interval = 2 * time.Second },
		"no healthcheck":    func(s *Service) { s.Healthcheck = nil },
		"resources":         func(s *Service) { s.Resources.Pids = 10 },
		"cap_drop":          func(s *Service) { s.CapDrop = []string{"ALL"} },
		"privileged":        func(s *Service) { s.Privileged = true },
		"read_only":         func(s *Service) { s.ReadOnly = true },
		"init":              func(s *Service) { s.Init = ptr(false) },
		"stop_signal":       func(s *Service) { s.StopSignal = "SIGINT" },
		"stop_grace_period": func(s *Service) { s.StopGracePeriod = nil },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			s := base()
			change(&s)
			assert.NotEqual(t, h, ConfigHash(s), "a change of %s must recreate the container", name)
		})
	}
}

func TestConfigHashForm(t *testing.T) {
	h := ConfigHash(base())
	require.Len(t, h, 64, "sha256 in hex, as compose writes it")
	_, err := hex.DecodeString(h)
	require.NoError(t, err)
	assert.Equal(t, h, ConfigHash(base()), "the same service, the same hash")

	// maps built in another order hash the same (encoding/json sorts keys)
	s := base()
	s.Labels = map[string]string{}
	s.Labels["team"] = "a"
	s.Labels["tier"] = "web"
	assert.Equal(t, h, ConfigHash(s))

	// ConfigHash takes a copy: the caller's service is left alone
	s = base()
	ConfigHash(s)
	assert.Equal(t, base(), s)
}

func TestNetworkNames(t *testing.T) {
	s := Service{Networks: map[string]ServiceNetwork{"b": {}, "a": {}, "z": {Priority: 5}, "y": {Priority: 5}, "low": {Priority: -1}}}
	assert.Equal(t, []string{"y", "z", "a", "b", "low"}, s.NetworkNames())
	assert.Empty(t, (&Service{}).NetworkNames())
}

func TestContainerName(t *testing.T) {
	p := &Project{Name: "shop"}
	assert.Equal(t, "shop-web-2", p.ContainerName(&Service{Name: "web"}, 2))
	assert.Equal(t, "db", p.ContainerName(&Service{Name: "web", ContainerName: "db"}, 1))
}
