package project

import (
	"context"
	"io"

	"minibox/04-storage/engine"
	"minibox/07-compose/model"
)

// Backend is what the reconciler needs of minibox: containers found by
// their labels, made from a service, started, stopped and removed;
// networks, volumes and images. The real one (NewBackend) drives
// minibox's own commands and the engine; tests use a fake, so that the
// plan, the order and the conditions are tested without root.
type Backend interface {
	// Containers are the containers that carry every label of labels
	// (all: stopped ones too).
	Containers(ctx context.Context, labels map[string]string, all bool) ([]*engine.Info, error)
	Inspect(ctx context.Context, ref string) (*engine.Info, error)
	// Create makes the container of spec (not started) and returns its ID.
	Create(ctx context.Context, spec ContainerSpec) (string, error)
	Start(ctx context.Context, ref string) error
	Stop(ctx context.Context, ref string, timeout *int) error
	Remove(ctx context.Context, ref string, force, volumes bool) error
	// Run is `compose run`: the container of spec made, started and, unless
	// detached, attached until it exits; the exit status.
	Run(ctx context.Context, spec ContainerSpec, o RunOptions) (int, error)

	// Network returns the labels of the network called name; ok is false
	// when there is none.
	Network(ctx context.Context, name string) (labels map[string]string, ok bool, err error)
	CreateNetwork(ctx context.Context, name string, n model.Network, labels map[string]string) error
	RemoveNetwork(ctx context.Context, name string) error
	// Connect puts a container on one more network (network connect).
	Connect(ctx context.Context, network, container string, ep model.ServiceNetwork) error

	Volume(ctx context.Context, name string) (labels map[string]string, ok bool, err error)
	CreateVolume(ctx context.Context, name string, v model.Volume, labels map[string]string) error
	RemoveVolume(ctx context.Context, name string) error

	// ImageID returns the ID of the local image ref, "" when there is none.
	ImageID(ctx context.Context, ref string) (string, error)
	Build(ctx context.Context, spec BuildSpec) error
	Pull(ctx context.Context, ref string, out io.Writer) error
	Push(ctx context.Context, ref string, out io.Writer) error
	RemoveImage(ctx context.Context, ref string) error
}

// ContainerSpec is one container to make: the service it runs, its name
// and number, and the labels compose puts on it.
type ContainerSpec struct {
	Project *model.Project
	Service *model.Service
	Name    string
	Number  int
	Labels  map[string]string // compose's labels over the service's own
	// ImageID is the image the container is made from (a built image has
	// no registry name to pull).
	ImageID string
}

// BuildSpec is one image to build: the service's build section, its tags.
type BuildSpec struct {
	Service string
	Build   model.Build
	Tags    []string // Image first
	NoCache bool
	Pull    bool
	Out     io.Writer
}
