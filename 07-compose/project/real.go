package project

import (
	"context"
	"io"

	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/engine"
	"minibox/07-compose/model"
)

// NewBackend is the real backend over the program's CLI: containers,
// networks, volumes and images are made by minibox's own commands, run
// in-process on a fresh command tree each time, and read through the
// engine.
func NewBackend(c *lesson04.CLI) Backend { return &real{cli: c} }

type real struct {
	cli *lesson04.CLI
}

func (r *real) Containers(ctx context.Context, labels map[string]string, all bool) ([]*engine.Info, error) {
	return nil, errTodo
}
func (r *real) Inspect(ctx context.Context, ref string) (*engine.Info, error)  { return nil, errTodo }
func (r *real) Create(ctx context.Context, spec ContainerSpec) (string, error) { return "", errTodo }
func (r *real) Start(ctx context.Context, ref string) error                    { return errTodo }
func (r *real) Stop(ctx context.Context, ref string, timeout *int) error       { return errTodo }
func (r *real) Remove(ctx context.Context, ref string, force, volumes bool) error {
	return errTodo
}
func (r *real) Run(ctx context.Context, spec ContainerSpec, o RunOptions) (int, error) {
	return 0, errTodo
}
func (r *real) Network(ctx context.Context, name string) (map[string]string, bool, error) {
	return nil, false, errTodo
}
func (r *real) CreateNetwork(ctx context.Context, name string, n model.Network, labels map[string]string) error {
	return errTodo
}
func (r *real) RemoveNetwork(ctx context.Context, name string) error { return errTodo }
func (r *real) Connect(ctx context.Context, network, container string, ep model.ServiceNetwork) error {
	return errTodo
}
func (r *real) Volume(ctx context.Context, name string) (map[string]string, bool, error) {
	return nil, false, errTodo
}
func (r *real) CreateVolume(ctx context.Context, name string, v model.Volume, labels map[string]string) error {
	return errTodo
}
func (r *real) RemoveVolume(ctx context.Context, name string) error       { return errTodo }
func (r *real) ImageID(ctx context.Context, ref string) (string, error)   { return "", errTodo }
func (r *real) Build(ctx context.Context, spec BuildSpec) error           { return errTodo }
func (r *real) Pull(ctx context.Context, ref string, out io.Writer) error { return errTodo }
func (r *real) Push(ctx context.Context, ref string, out io.Writer) error { return errTodo }
func (r *real) RemoveImage(ctx context.Context, ref string) error         { return errTodo }
