package engine

import (
	"errors"
	"io"
	"time"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The engine knows the layers above lesson 03 only through the three
// interfaces below. Lesson 04 implements Storage and a local Images; lesson
// 05 implements Networks; lesson 06 grows Images (pull, build). Each lesson's
// main.go passes its implementations in Options, so the engine never imports
// a later lesson.

// Storage gives a container its file systems: the image's layers read-only
// plus a read-write layer of its own, and its volumes, bind mounts and tmpfs.
type Storage interface {
	// Create makes the container's read-write layer on top of img's layers
	// and resolves its mounts (c.HostConfig.Binds, .Mounts, .Tmpfs,
	// .VolumesFrom and the image's volumes), creating named and anonymous
	// volumes. It fills c.Mounts and c.GraphDriver. Bad input changes
	// nothing: it returns an error and leaves no layer and no volume.
	Create(c *Container, img *Image) error
	// Mount mounts the container's root file system and returns its path
	// and the spec mounts of its volumes, binds and tmpfs (in c.Mounts'
	// order), ready to go into the bundle's config.json.
	Mount(c *Container) (root string, mounts []specs.Mount, err error)
	// Unmount undoes Mount; it is not an error when nothing is mounted.
	Unmount(c *Container) error
	// Remove deletes the container's read-write layer and, when volumes is
	// true, its anonymous volumes (never named ones). It must also undo a
	// Create that was killed halfway, for which c holds only what the
	// engine wrote ahead (c.Mounts may be empty): the engine's sweep calls
	// it for the containers of dead creators. Removing twice is no error.
	Remove(c *Container, volumes bool) error
}

// Images finds images by reference or ID (lesson 04: the local store; lesson
// 06 adds registries and builds).
type Images interface {
	// Resolve returns the image that ref names (a name[:tag], a full or
	// short ID, name@digest), or an error wrapping ErrImageNotFound.
	Resolve(ref string) (*Image, error)
}

// Networks attaches containers to networks (lesson 05). With no Networks,
// the engine knows only the modes "none" (a new network namespace with lo
// only) and "host" (the host's network namespace).
type Networks interface {
	// Attach connects the container to the networks of
	// c.HostConfig.NetworkMode and c.NetworkSettings before its runtime
	// creates it. netns names an existing network namespace to use; ""
	// asks Attach to make one (a bind-mounted nsfs file, as `ip netns add`
	// does) and record its path in c.NetworkSettings.SandboxKey, which the
	// container then joins by path. It fills c.NetworkSettings and may
	// return files the container must see (/etc/hosts, /etc/resolv.conf,
	// /etc/hostname) as bind mounts.
	Attach(c *Container, netns string) ([]specs.Mount, error)
	// Detach undoes Attach; it is not an error when nothing is attached.
	Detach(c *Container) error
}

// Publisher is implemented by Networks that publish ports (lesson 05):
// the monitor calls Publish after Attach and before the runtime creates
// the container, so a port already taken fails the start before anything
// runs, and closes what it returned once the container has stopped.
// Publish records the host ports in c.NetworkSettings.Ports.
type Publisher interface {
	Publish(c *Container) (io.Closer, error)
}

// Image is what the engine needs of an image: its ID (the config's digest,
// as Docker's image IDs are), the OCI image config, and its layers.
type Image struct {
	ID       digest.Digest
	RepoTags []string
	Config   imagespec.Image // config.config is what a container starts from
	DiffIDs  []digest.Digest // = Config.RootFS.DiffIDs, bottom first
}

// ErrImageNotFound is wrapped by Images.Resolve when no image matches.
var ErrImageNotFound = errors.New("no such image")

// ErrNotFound is wrapped when no container matches a name or ID.
var ErrNotFound = errors.New("no such container")

// Container is what the engine keeps about one container, shaped like
// Docker's `inspect` output where Docker has a field, so that it can be
// printed as it is. The file is containers/ID/config.json under the data
// root; State lives beside it in state.json (it changes more often).
type Container struct {
	ID      string    `json:"Id"` // 64 hex digits; the first 12 are shown
	Name    string    // without Docker's leading "/"; Docker's JSON adds it
	Created time.Time //
	Image   string    // the image ID (Docker's "Image")
	// Path and Args are the command the container runs (entrypoint + cmd).
	Path string
	Args []string

	Config     Config
	HostConfig HostConfig
	// Spec is the OCI spec as the flags and the image made it; the engine
	// fills its root, mounts and network namespace at every start, as
	// Docker recreates a container's spec each time it starts it.
	Spec *specs.Spec `json:"-"`

	Mounts          []MountPoint
	GraphDriver     GraphDriver
	NetworkSettings NetworkSettings
	RestartCount    int
	// HasBeenManuallyStopped is set by stop and kill and cleared by start
	// (Docker's field of the same name): unless-stopped's "stopped" (restart.go).
	HasBeenManuallyStopped bool
}

// Config is Docker's container config: what the image and the flags say
// about the process.
type Config struct {
	Hostname     string
	User         string
	Env          []string
	Cmd          []string
	Entrypoint   []string
	Image        string // the reference as the user gave it
	WorkingDir   string
	Labels       map[string]string
	Volumes      map[string]struct{}
	ExposedPorts map[string]struct{}
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	StopSignal   string        `json:",omitempty"`
	StopTimeout  *int          `json:",omitempty"`
	Healthcheck  *HealthConfig `json:",omitempty"`
}

// HostConfig is Docker's host config: how the host runs the container.
type HostConfig struct {
	Binds           []string // -v as given
	Mounts          []Mount  // --mount as parsed
	Tmpfs           map[string]string
	VolumesFrom     []string
	ReadonlyRootfs  bool
	AutoRemove      bool // --rm
	Runtime         string
	Init            bool
	NetworkMode     string
	Dns             []string `json:",omitempty"` // --dns
	DnsOptions      []string `json:",omitempty"` // --dns-option
	DnsSearch       []string `json:",omitempty"` // --dns-search
	ExtraHosts      []string `json:",omitempty"` // --add-host NAME:IP
	PortBindings    map[string][]PortBinding
	PublishAllPorts bool
	RestartPolicy   RestartPolicy
	Privileged      bool
	CapAdd          []string
	CapDrop         []string
	SecurityOpt     []string
	// Resources, as Docker names them (lesson 02).
	Memory            int64
	MemorySwap        int64
	MemoryReservation int64
	NanoCpus          int64
	CpuShares         int64
	CpuPeriod         int64
	CpuQuota          int64
	CpusetCpus        string
	CpusetMems        string
	PidsLimit         *int64
	StorageDriver     string `json:",omitempty"` // --storage-driver: overlay or vfs
}

// Mount is one --mount (or the parsed form of one -v).
type Mount struct {
	Type         string // bind, volume, tmpfs
	Source       string `json:",omitempty"`
	Target       string
	ReadOnly     bool   `json:",omitempty"`
	VolumeNoCopy bool   `json:",omitempty"`
	TmpfsSize    int64  `json:",omitempty"`
	TmpfsMode    uint32 `json:",omitempty"`
	BindNoCreate bool   `json:",omitempty"` // --mount type=bind: a missing source is an error
	// BindPropagation is a bind mount's propagation (rprivate when empty).
	BindPropagation string `json:",omitempty"`
}

// MountPoint is one entry of `inspect`'s Mounts, as Docker prints it.
type MountPoint struct {
	Type        string // bind, volume, tmpfs
	Name        string `json:",omitempty"` // the volume's name
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
	Anonymous   bool `json:",omitempty"` // removed with the container by rm -v and --rm
}

// GraphDriver names the storage driver and its directories, as Docker's
// inspect does (LowerDir, UpperDir, WorkDir, MergedDir for overlay).
type GraphDriver struct {
	Name string
	Data map[string]string
}

// NetworkSettings is where lesson 05 records a container's endpoints.
type NetworkSettings struct {
	Networks   map[string]*EndpointSettings `json:",omitempty"`
	Ports      map[string][]PortBinding     `json:",omitempty"`
	SandboxKey string                       `json:",omitempty"` // the netns path
}

// EndpointSettings is one network attachment.
type EndpointSettings struct {
	IPAMConfig  *EndpointIPAMConfig `json:",omitempty"` // --ip
	NetworkID   string
	Aliases     []string `json:",omitempty"`
	IPAddress   string
	IPPrefixLen int
	Gateway     string
	MacAddress  string
}

// EndpointIPAMConfig is the address asked for with --ip.
type EndpointIPAMConfig struct {
	IPv4Address string `json:",omitempty"`
}

// PortBinding is one host side of a published port.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// RestartPolicy is --restart (lesson 07 acts on it in the monitor).
type RestartPolicy struct {
	Name              string // "", no, always, on-failure, unless-stopped
	MaximumRetryCount int
}

// HealthConfig is a healthcheck (the image's HEALTHCHECK or --health-*).
type HealthConfig struct {
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// State is a container's state, as Docker's inspect prints it, plus what
// the engine needs to check it: the monitor's and the init's PIDs with their
// start times (a PID alone may have been reused).
type State struct {
	Status     string // created, running, restarting, exited, dead
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	Health     *Health `json:",omitempty"`

	// Kept in state.json for the engine's own checks; inspect may omit them.
	PidStart     uint64 `json:",omitempty"`
	MonitorPid   int    `json:",omitempty"`
	MonitorStart uint64 `json:",omitempty"`
}

// Health is State.Health (lesson 07).
type Health struct {
	Status        string // starting, healthy, unhealthy
	FailingStreak int
	Log           []HealthResult
}

// HealthResult is one run of a healthcheck.
type HealthResult struct {
	Start    time.Time
	End      time.Time
	ExitCode int
	Output   string
}
