// Package project is lesson 07's reconciler: it makes a compose project's
// networks, volumes and containers agree with its file, as docker compose
// v2 does (its convergence.go). Each container carries compose's labels
// (project, service, number, config hash), so the next `up` finds what it
// made, keeps what is unchanged, recreates what changed and removes what
// the file no longer has.
package project

import (
	"context"
	"errors"
	"io"
	"time"

	"minibox/04-storage/engine"
	"minibox/07-compose/model"
)

var errTodo = errors.New("not implemented yet")

// Compose runs one project's commands over a backend; progress lines go
// to Out (compose prints them on stderr; the caller chooses), warnings to
// Err.
type Compose struct {
	Project *model.Project
	Backend Backend
	Out     io.Writer
	Err     io.Writer
}

// UpOptions are `compose up`'s.
type UpOptions struct {
	Services                                                         []string
	Detach, Build, NoBuild, ForceRecreate, NoRecreate, RemoveOrphans bool
	Wait                                                             bool
	WaitTimeout                                                      time.Duration
	// NoDeps starts only Services, not what they depend on.
	NoDeps bool
	// Timeout is the stop timeout of recreated containers (nil: the
	// service's stop_grace_period, else 10 s).
	Timeout *int
}

// DownOptions are `compose down`'s.
type DownOptions struct {
	Volumes, RemoveOrphans bool
	RMI                    string // "", local, all
	Timeout                *int
}

// RunOptions are `compose run`'s.
type RunOptions struct {
	Command    []string // nil: the service's
	Entrypoint *string  // --entrypoint
	Env        []string // -e
	User       string
	WorkDir    string
	Name       string // --name ("" = PROJECT-SERVICE-run-HEX)
	Rm         bool
	NoDeps     bool
	Detach     bool
	NoTTY      bool // -T
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
}

// Up makes the project's networks, volumes and images, then its
// containers in dependency order.
func (c *Compose) Up(ctx context.Context, o UpOptions) error { return errTodo }

// Down stops and removes the project's containers, then its networks
// (-v: named volumes, --rmi: images).
func (c *Compose) Down(ctx context.Context, o DownOptions) error { return errTodo }

// Start starts the services' existing containers, dependencies first.
func (c *Compose) Start(ctx context.Context, services []string) error { return errTodo }

// Stop stops the services' containers, dependents first.
func (c *Compose) Stop(ctx context.Context, services []string, timeout *int) error { return errTodo }

// Restart stops and starts the services' containers.
func (c *Compose) Restart(ctx context.Context, services []string, timeout *int) error {
	return errTodo
}

// Remove removes the services' stopped containers (force: running ones
// too; stop: stopped first; volumes: their anonymous volumes).
func (c *Compose) Remove(ctx context.Context, services []string, force, stop, volumes bool) error {
	return errTodo
}

// Build builds the services that have a build section.
func (c *Compose) Build(ctx context.Context, services []string, noCache, pull bool) error {
	return errTodo
}

// Pull pulls the services' images (not the ones only built).
func (c *Compose) Pull(ctx context.Context, services []string) error { return errTodo }

// Push pushes the built services' images.
func (c *Compose) Push(ctx context.Context, services []string) error { return errTodo }

// Containers are the project's containers (all: stopped too; services:
// only theirs), sorted by service and number; one-off containers are not
// among them.
func (c *Compose) Containers(ctx context.Context, all bool, services ...string) ([]*engine.Info, error) {
	return nil, errTodo
}

// RunOneoff is `compose run`: a one-off container of service.
func (c *Compose) RunOneoff(ctx context.Context, service string, o RunOptions) (int, error) {
	return 0, errTodo
}
