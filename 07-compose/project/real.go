package project

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/containerfs"
	"minibox/04-storage/engine"
	"minibox/04-storage/volumes"
	"minibox/05-network/network"
	"minibox/07-compose/model"
)

// NewBackend is the real backend over the program's CLI: containers,
// networks, volumes and images are made by minibox's own commands, run
// in-process on a fresh command tree each time (CLI.Run), and read, stopped
// and removed through the engine.
func NewBackend(c *lesson04.CLI) Backend { return &real{cli: c} }

type real struct {
	cli *lesson04.CLI
}

// run runs one minibox command line; its stderr becomes the error.
func (r *real) run(out io.Writer, adjust func(*engine.CreateRequest) error, args ...string) error {
	var stdout, stderr bytes.Buffer
	if out == nil {
		out = &stdout
	}
	if code := r.cli.Run(args, out, &stderr, adjust); code != 0 {
		msg := strings.TrimSpace(stderr.String())
		msg = strings.TrimPrefix(msg, "minibox: ")
		if msg == "" {
			msg = fmt.Sprintf("exit status %d", code)
		}
		return fmt.Errorf("minibox %s: %s", args[0], msg)
	}
	return nil
}

func (r *real) engine() (*engine.Engine, error) { return r.cli.Engine() }

func (r *real) Containers(ctx context.Context, labels map[string]string, all bool) ([]*engine.Info, error) {
	e, err := r.engine()
	if err != nil {
		return nil, err
	}
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	var out []*engine.Info
	for _, in := range list {
		if !all && !in.State.Running && !in.State.Restarting {
			continue
		}
		ok := true
		for k, v := range labels {
			if got, has := in.Config.Labels[k]; !has || got != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, in)
		}
	}
	return out, nil
}

func (r *real) Inspect(ctx context.Context, ref string) (*engine.Info, error) {
	e, err := r.engine()
	if err != nil {
		return nil, err
	}
	return e.Inspect(ref)
}

func (r *real) Create(ctx context.Context, spec ContainerSpec) (string, error) {
	args, adjust, err := CreateArgs(spec)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	if err := r.run(&out, adjust, args...); err != nil {
		return "", err
	}
	return strings.TrimSpace(out.String()), nil
}

func (r *real) Start(ctx context.Context, ref string) error { return r.run(nil, nil, "start", ref) }

func (r *real) Stop(ctx context.Context, ref string, timeout *int) error {
	e, err := r.engine()
	if err != nil {
		return err
	}
	return e.Stop(ref, timeout)
}

func (r *real) Remove(ctx context.Context, ref string, force, volumes bool) error {
	e, err := r.engine()
	if err != nil {
		return err
	}
	return e.Remove(ref, force, volumes)
}

// Run is `minibox run` of the one-off container: attached unless
// detached, its exit status.
func (r *real) Run(ctx context.Context, spec ContainerSpec, o RunOptions) (int, error) {
	var extra []string
	if o.Rm {
		extra = append(extra, "--rm")
	}
	if o.Detach {
		extra = append(extra, "--detach")
	}
	args, adjust, err := commandArgs("run", spec, extra)
	if err != nil {
		return 0, err
	}
	stdout, stderr := o.Stdout, o.Stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	code := r.cli.Run(args, stdout, stderr, adjust)
	return code, nil
}

func (r *real) networks() (*network.Manager, error) {
	e, err := r.engine()
	if err != nil {
		return nil, err
	}
	m, ok := e.Options().Networks.(*network.Manager)
	if !ok {
		return nil, errors.New("this program has no networks (lesson 05)")
	}
	return m, nil
}

func (r *real) Network(ctx context.Context, name string) (map[string]string, bool, error) {
	m, err := r.networks()
	if err != nil {
		return nil, false, err
	}
	n, err := m.Get(name)
	if errors.Is(err, network.ErrNotFound) || (err == nil && n.Name != name) {
		return nil, false, nil // (Get also takes IDs: only the name counts)
	}
	if err != nil {
		return nil, false, err
	}
	return n.Labels, true, nil
}

func (r *real) CreateNetwork(ctx context.Context, name string, n model.Network, labels map[string]string) error {
	args := []string{"network", "create"}
	if n.Driver != "" {
		args = append(args, "--driver", n.Driver)
	}
	if n.Subnet != "" {
		args = append(args, "--subnet", n.Subnet)
	}
	if n.Gateway != "" {
		args = append(args, "--gateway", n.Gateway)
	}
	if n.IPRange != "" {
		args = append(args, "--ip-range", n.IPRange)
	}
	if n.Internal {
		args = append(args, "--internal")
	}
	for _, k := range sortedKeys(n.DriverOpts) {
		args = append(args, "--opt", k+"="+n.DriverOpts[k])
	}
	for _, k := range sortedKeys(labels) {
		args = append(args, "--label", k+"="+labels[k])
	}
	return r.run(nil, nil, append(args, name)...)
}

func (r *real) RemoveNetwork(ctx context.Context, name string) error {
	return r.run(nil, nil, "network", "rm", name)
}

func (r *real) Connect(ctx context.Context, net, container string, ep model.ServiceNetwork) error {
	args := []string{"network", "connect"}
	for _, a := range ep.Aliases {
		args = append(args, "--alias", a)
	}
	if ep.IPv4Address != "" {
		args = append(args, "--ip", ep.IPv4Address)
	}
	return r.run(nil, nil, append(args, net, container)...)
}

func (r *real) volumes() (*volumes.Store, error) {
	e, err := r.engine()
	if err != nil {
		return nil, err
	}
	if s, ok := e.Options().Storage.(*containerfs.Storage); ok && s.Volumes != nil {
		return s.Volumes, nil
	}
	return nil, errors.New("this engine's storage has no volumes")
}

func (r *real) Volume(ctx context.Context, name string) (map[string]string, bool, error) {
	vs, err := r.volumes()
	if err != nil {
		return nil, false, err
	}
	v, err := vs.Inspect(name)
	if errors.Is(err, volumes.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v.Labels, true, nil
}

func (r *real) CreateVolume(ctx context.Context, name string, v model.Volume, labels map[string]string) error {
	if v.Driver != "" && v.Driver != "local" {
		return fmt.Errorf("volume driver %q is not supported by minibox (only local)", v.Driver)
	}
	if len(v.DriverOpts) > 0 {
		return fmt.Errorf("volume %s: driver_opts are not supported by minibox", name)
	}
	args := []string{"volume", "create"}
	for _, k := range sortedKeys(labels) {
		args = append(args, "--label", k+"="+labels[k])
	}
	return r.run(nil, nil, append(args, name)...)
}

func (r *real) RemoveVolume(ctx context.Context, name string) error {
	return r.run(nil, nil, "volume", "rm", name)
}

func (r *real) ImageID(ctx context.Context, ref string) (string, error) {
	e, err := r.engine()
	if err != nil {
		return "", err
	}
	img, err := e.Options().Images.Resolve(ref)
	if errors.Is(err, engine.ErrImageNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return img.ID.String(), nil
}

func (r *real) Build(ctx context.Context, spec BuildSpec) error {
	return r.run(spec.Out, nil, buildArgs(spec)...)
}

func (r *real) Pull(ctx context.Context, ref string, out io.Writer) error {
	return r.run(out, nil, "pull", ref)
}

func (r *real) Push(ctx context.Context, ref string, out io.Writer) error {
	return r.run(out, nil, "push", ref)
}

func (r *real) RemoveImage(ctx context.Context, ref string) error {
	return r.run(nil, nil, "rmi", ref)
}
