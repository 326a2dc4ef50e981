// Package model is lesson 07's picture of a compose project: the few types
// the rest of the lesson works on. compose-go reads the YAML (the loader
// package turns its project into this one); everything after that, the
// dependency graph, the plan, the containers, sees only these types, so a
// student can read what a compose file means without compose-go's hundred
// fields.
package model

import (
	"strconv"
	"time"
)

// Project is one compose application: its name (the prefix of everything
// it makes), its directory and files, and what they declare.
type Project struct {
	Name       string   // normalised: lower case, [a-z0-9_-]
	WorkingDir string   // the project directory (relative paths start here)
	Files      []string // the compose files, in merge order, absolute
	Services   []Service
	Networks   map[string]Network // by the file's key (default: "default")
	Volumes    map[string]Volume  // by the file's key
	Warnings   []string           // said on stderr before anything runs (e.g. `version` is obsolete)
	// Disabled are the services a profile not asked for hides.
	Disabled []string
	// Source is the loader's own view of the project (compose-go's), kept
	// for `compose config`; nothing else looks inside it.
	Source any `json:"-"`
}

// Service returns the named service.
func (p *Project) Service(name string) (*Service, bool) {
	for i := range p.Services {
		if p.Services[i].Name == name {
			return &p.Services[i], true
		}
	}
	return nil, false
}

// Service is one `services:` entry: what each of its containers is.
type Service struct {
	Name string
	// Image is the image to run. A service with only `build:` gets the
	// image compose v2 names for it: PROJECT-SERVICE.
	Image      string
	Build      *Build
	PullPolicy string // "", always, never, missing, build
	Scale      int    // containers of the service (deploy.replicas / scale), default 1

	Command    []string // nil: the image's CMD; a string form is split as a shell would
	Entrypoint []string // nil: the image's ENTRYPOINT
	// Environment is KEY=VALUE, sorted, env_file entries merged in first
	// and `environment:` over them, as compose does.
	Environment []string
	Labels      map[string]string

	ContainerName string // container_name: the one container's name instead of PROJECT-SERVICE-N
	Hostname      string
	User          string
	WorkingDir    string
	Tty           bool
	StdinOpen     bool

	Ports   []Port
	Expose  []string // container ports, "80" or "80/udp"
	Volumes []Mount  // volumes: and tmpfs: in order
	// Networks by the file's key; a service that names none is on "default".
	Networks    map[string]ServiceNetwork
	NetworkMode string // network_mode: host, none, container:NAME, service:NAME ("" = networks)
	DNS         []string
	ExtraHosts  []string // HOST:IP, as --add-host takes them

	Restart     string // no, always, on-failure[:N], unless-stopped ("" = no)
	Healthcheck *Healthcheck
	DependsOn   map[string]Dependency

	Resources       Resources
	CapAdd, CapDrop []string
	Privileged      bool
	ReadOnly        bool
	Init            *bool
	StopSignal      string
	StopGracePeriod *time.Duration
	Profiles        []string
}

// Build is `build:`: where the Dockerfile and its context are.
type Build struct {
	Context    string             // absolute directory
	Dockerfile string             // relative to Context ("" = Dockerfile)
	Args       map[string]*string // nil value: taken from the environment, as --build-arg NAME
	Target     string
	Labels     map[string]string
	Tags       []string // more names for the built image
	NoCache    bool
	Pull       bool
}

// Port is one published port (short "8080:80/udp" or long form).
type Port struct {
	HostIP    string // "" = every address
	Published string // host port or range ("8000-8002"); "" = any free port
	Target    string // container port or range
	Protocol  string // tcp or udp
}

// Mount is one `volumes:` entry (or a `tmpfs:` one).
type Mount struct {
	Type     string // bind, volume, tmpfs
	Source   string // bind: an absolute host path; volume: the Project.Volumes key ("" = anonymous)
	Target   string
	ReadOnly bool
	// CreateHostPath is a bind's create_host_path (true in the short form):
	// a missing source directory is made, as -v does.
	CreateHostPath bool
	NoCopy         bool   // volume.nocopy
	TmpfsSize      int64  // bytes, 0 = the default
	TmpfsMode      uint32 // tmpfs mode bits (tmpfs.mode, or mode= in `tmpfs:`), 0 = the default
}

// ServiceNetwork is a service's place on one network.
type ServiceNetwork struct {
	Aliases     []string
	IPv4Address string
	Priority    int // priority: the network with the highest is the first (see NetworkNames)
}

// Healthcheck is `healthcheck:` (nil: the image's HEALTHCHECK, if any).
type Healthcheck struct {
	Test          []string // ["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"]
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
	Disable       bool
}

// Dependency is one `depends_on:` entry.
type Dependency struct {
	Condition string // service_started, service_healthy, service_completed_successfully
	Required  bool   // default true: a missing or failed dependency fails up
	Restart   bool   // restart this service when the dependency is restarted
}

// Resources are deploy.resources.limits (and mem_limit, cpus, pids_limit),
// mapped to lesson 02's cgroup limits.
type Resources struct {
	Memory   int64 // bytes
	NanoCPUs int64 // 1e9 = one CPU
	Pids     int64
}

// Network is a top-level `networks:` entry.
type Network struct {
	Name       string // the real name: PROJECT_KEY unless `name:` or external
	Driver     string // bridge (default) or macvlan
	DriverOpts map[string]string
	Subnet     string
	Gateway    string
	IPRange    string
	Internal   bool
	External   bool
	Labels     map[string]string
}

// Volume is a top-level `volumes:` entry.
type Volume struct {
	Name       string // the real name: PROJECT_KEY unless `name:` or external
	Driver     string
	DriverOpts map[string]string // e.g. type=none, o=bind, device=/path
	External   bool
	Labels     map[string]string
}

// ContainerName is the name of a service's container number n (from 1):
// container_name if set, else compose's PROJECT-SERVICE-N.
func (p *Project) ContainerName(s *Service, n int) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	return p.Name + "-" + s.Name + "-" + strconv.Itoa(n)
}
