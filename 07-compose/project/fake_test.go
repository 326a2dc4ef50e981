package project

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"minibox/04-storage/engine"
	"minibox/07-compose/model"
)

// fake is a Backend in memory: containers by name, networks, volumes and
// images, and a log of what was done, one line an action ("create
// p-web-1", "start p-web-1", ...).
type fake struct {
	mu         sync.Mutex
	seq        int
	containers map[string]*engine.Info
	specs      map[string]ContainerSpec
	networks   map[string]map[string]string
	volumes    map[string]map[string]string
	images     map[string]string // ref -> ID
	registry   map[string]string // what Pull finds: ref -> ID
	log        []string
	// health[service] are the health statuses its containers report, one
	// per Inspect (the last one stays).
	health map[string][]string
	// exit[service] makes its containers exit at once with that status.
	exit map[string]int
}

func newFake() *fake {
	return &fake{containers: map[string]*engine.Info{}, specs: map[string]ContainerSpec{},
		networks: map[string]map[string]string{}, volumes: map[string]map[string]string{},
		images: map[string]string{}, registry: map[string]string{}, health: map[string][]string{}, exit: map[string]int{}}
}

func (f *fake) record(format string, a ...any) { f.log = append(f.log, fmt.Sprintf(format, a...)) }

// actions is the log without the lines of kind (e.g. "inspect").
func (f *fake) actions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fake) reset() {
	f.mu.Lock()
	f.log = nil
	f.mu.Unlock()
}

func copyInfo(in *engine.Info) *engine.Info {
	c := *in.Container
	c.Config.Labels = map[string]string{}
	for k, v := range in.Config.Labels {
		c.Config.Labels[k] = v
	}
	out := &engine.Info{Container: &c, State: in.State}
	return out
}

func (f *fake) find(ref string) (*engine.Info, error) {
	if in, ok := f.containers[ref]; ok {
		return in, nil
	}
	for _, in := range f.containers {
		if in.ID == ref {
			return in, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", engine.ErrNotFound, ref)
}

func (f *fake) Containers(ctx context.Context, labels map[string]string, all bool) ([]*engine.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*engine.Info
	for _, in := range f.containers {
		if !all && !in.State.Running {
			continue
		}
		ok := true
		for k, v := range labels {
			if in.Config.Labels[k] != v {
				ok = false
			}
		}
		if ok {
			out = append(out, copyInfo(in))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fake) Inspect(ctx context.Context, ref string) (*engine.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.find(ref)
	if err != nil {
		return nil, err
	}
	if h := f.health[in.Config.Labels[model.LabelService]]; len(h) > 0 && in.State.Running {
		in.State.Health = &engine.Health{Status: h[0]}
		if len(h) > 1 {
			f.health[in.Config.Labels[model.LabelService]] = h[1:]
		}
	}
	return copyInfo(in), nil
}

func (f *fake) Create(ctx context.Context, spec ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.containers[spec.Name]; ok {
		return "", fmt.Errorf("Conflict. The container name %q is already in use", spec.Name)
	}
	if _, ok := f.images[spec.Service.Image]; !ok {
		return "", fmt.Errorf("no such image: %s", spec.Service.Image)
	}
	f.seq++
	id := fmt.Sprintf("%064d", f.seq)
	c := &engine.Container{ID: id, Name: spec.Name, Created: time.Unix(int64(f.seq), 0),
		Image: spec.ImageID, Config: engine.Config{Image: spec.Service.Image, Labels: spec.Labels,
			Healthcheck: healthConfig(spec.Service.Healthcheck)}}
	f.containers[spec.Name] = &engine.Info{Container: c, State: engine.State{Status: "created"}}
	f.specs[spec.Name] = spec
	f.record("create %s", spec.Name)
	return id, nil
}

func (f *fake) Start(ctx context.Context, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.find(ref)
	if err != nil {
		return err
	}
	f.record("start %s", in.Name)
	if code, ok := f.exit[in.Config.Labels[model.LabelService]]; ok {
		in.State = engine.State{Status: "exited", ExitCode: code}
		return nil
	}
	in.State = engine.State{Status: "running", Running: true}
	return nil
}

func (f *fake) Stop(ctx context.Context, ref string, timeout *int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.find(ref)
	if err != nil {
		return err
	}
	t := "default"
	if timeout != nil {
		t = fmt.Sprint(*timeout)
	}
	f.record("stop %s %s", in.Name, t)
	in.State = engine.State{Status: "exited", ExitCode: 137}
	return nil
}

func (f *fake) Remove(ctx context.Context, ref string, force, volumes bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.find(ref)
	if err != nil {
		return err
	}
	if in.State.Running && !force {
		return fmt.Errorf("cannot remove a running container")
	}
	f.record("rm %s", in.Name)
	delete(f.containers, in.Name)
	return nil
}

func (f *fake) Run(ctx context.Context, spec ContainerSpec, o RunOptions) (int, error) {
	if _, err := f.Create(ctx, spec); err != nil {
		return 0, err
	}
	if err := f.Start(ctx, spec.Name); err != nil {
		return 0, err
	}
	if o.Rm {
		f.mu.Lock()
		delete(f.containers, spec.Name)
		f.mu.Unlock()
	}
	return 0, nil
}

func (f *fake) Network(ctx context.Context, name string) (map[string]string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.networks[name]
	return l, ok, nil
}

func (f *fake) CreateNetwork(ctx context.Context, name string, n model.Network, labels map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.networks[name] = labels
	f.record("network create %s", name)
	return nil
}

func (f *fake) RemoveNetwork(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, in := range f.containers {
		if in.HostConfig.NetworkMode == name {
			return fmt.Errorf("error while removing network: network %s has active endpoints", name)
		}
	}
	delete(f.networks, name)
	f.record("network rm %s", name)
	return nil
}

func (f *fake) Connect(ctx context.Context, network, container string, ep model.ServiceNetwork) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("network connect %s %s %s", network, container, strings.Join(ep.Aliases, ","))
	return nil
}

func (f *fake) Volume(ctx context.Context, name string) (map[string]string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.volumes[name]
	return l, ok, nil
}

func (f *fake) CreateVolume(ctx context.Context, name string, v model.Volume, labels map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.volumes[name] = labels
	f.record("volume create %s", name)
	return nil
}

func (f *fake) RemoveVolume(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.volumes, name)
	f.record("volume rm %s", name)
	return nil
}

func (f *fake) ImageID(ctx context.Context, ref string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.images[ref], nil
}

func (f *fake) Build(ctx context.Context, spec BuildSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	for _, t := range spec.Tags {
		f.images[t] = fmt.Sprintf("sha256:built%d", f.seq)
	}
	f.record("build %s", strings.Join(spec.Tags, ","))
	return nil
}

func (f *fake) Pull(ctx context.Context, ref string, out io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.registry[ref]
	if !ok {
		return fmt.Errorf("manifest for %s not found", ref)
	}
	f.images[ref] = id
	f.record("pull %s", ref)
	return nil
}

func (f *fake) Push(ctx context.Context, ref string, out io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("push %s", ref)
	return nil
}

func (f *fake) RemoveImage(ctx context.Context, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.images, ref)
	f.record("rmi %s", ref)
	return nil
}
