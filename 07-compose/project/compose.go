// Package project is lesson 07's reconciler: it makes a compose project's
// networks, volumes and containers agree with its file, as docker compose
// v2 does (its convergence). Each container carries compose's labels
// (project, service, number, config hash, image), so the next `up` finds
// what it made, keeps what is unchanged, recreates what changed and
// removes what the file no longer has.
//
// The package works on a Backend: the real one (NewBackend) runs minibox's
// own commands (create, start, network create, build...) and reads the
// engine; the tests' fake keeps containers in a map, so that the plan,
// the order and the depends_on conditions are tested without root.
package project

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"minibox/04-storage/engine"
	"minibox/07-compose/graph"
	"minibox/07-compose/model"
)

// Compose runs one project's commands over a backend; progress lines go
// to Out (compose prints them on stderr: the caller chooses), warnings to
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
	// Timeout is the stop timeout of recreated and removed containers
	// (nil: the service's stop_grace_period, else the engine's 10 s).
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
	Env        []string // -e KEY=VALUE
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

// PollInterval is how often a depends_on condition or --wait looks at the
// containers again (compose: 500 ms).
var PollInterval = 500 * time.Millisecond

func (c *Compose) out() io.Writer {
	if c.Out == nil {
		return io.Discard
	}
	return c.Out
}

func (c *Compose) errw() io.Writer {
	if c.Err == nil {
		return io.Discard
	}
	return c.Err
}

// event prints one of compose's progress lines: " ✔ Container p-web-1  Started".
func (c *Compose) event(kind, name, status string) {
	fmt.Fprintf(c.out(), " ✔ %s %s  %s\n", kind, name, status)
}

// warn prints a warning as compose's logrus does on a terminal.
func (c *Compose) warn(format string, a ...any) {
	fmt.Fprintf(c.errw(), "WARN[0000] "+format+"\n", a...)
}

// projectLabels select the project's containers (not one-off ones).
func (c *Compose) projectLabels() map[string]string {
	return map[string]string{model.LabelProject: c.Project.Name, model.LabelOneoff: "False"}
}

// service is the named service, or compose's error.
func (c *Compose) service(name string) (*model.Service, error) {
	s, ok := c.Project.Service(name)
	if !ok {
		return nil, fmt.Errorf("no such service: %s", name)
	}
	return s, nil
}

// expand checks names and adds, with deps, what they depend on (all the
// services when names is empty).
func (c *Compose) expand(names []string, deps bool) ([]string, error) {
	if len(names) == 0 {
		all := make([]string, 0, len(c.Project.Services))
		for _, s := range c.Project.Services {
			all = append(all, s.Name)
		}
		return all, nil
	}
	seen := map[string]bool{}
	var out []string
	var visit func(name string, top bool) error
	visit = func(name string, top bool) error {
		if seen[name] {
			return nil
		}
		s, err := c.service(name)
		if err != nil {
			if !top {
				return nil // a disabled dependency: the loader said it
			}
			return err
		}
		seen[name] = true
		out = append(out, name)
		if deps {
			for _, d := range sortedKeys(s.DependsOn) {
				if err := visit(d, false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, n := range names {
		if err := visit(n, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// order is the services' start order (graph.Order over their depends_on,
// within the set).
func (c *Compose) order(names []string) ([]string, error) {
	in := map[string]bool{}
	for _, n := range names {
		in[n] = true
	}
	deps := map[string][]string{}
	for _, n := range names {
		s, err := c.service(n)
		if err != nil {
			return nil, err
		}
		deps[n] = []string{}
		for d := range s.DependsOn {
			if in[d] {
				deps[n] = append(deps[n], d)
			}
		}
	}
	return graph.Order(deps)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// number is a container's com.docker.compose.container-number.
func number(in *engine.Info) int {
	n, _ := strconv.Atoi(in.Config.Labels[model.LabelNumber])
	return n
}

func serviceOf(in *engine.Info) string { return in.Config.Labels[model.LabelService] }

func running(in *engine.Info) bool { return in.State.Running || in.State.Restarting }

// sortContainers sorts by service, then number, then name.
func sortContainers(list []*engine.Info) {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if serviceOf(a) != serviceOf(b) {
			return serviceOf(a) < serviceOf(b)
		}
		if number(a) != number(b) {
			return number(a) < number(b)
		}
		return a.Name < b.Name
	})
}

// Containers are the project's containers (all: stopped too; services:
// only theirs), sorted by service and number; one-off containers are not
// among them.
func (c *Compose) Containers(ctx context.Context, all bool, services ...string) ([]*engine.Info, error) {
	for _, s := range services {
		if _, err := c.service(s); err != nil {
			return nil, err
		}
	}
	list, err := c.Backend.Containers(ctx, c.projectLabels(), all)
	if err != nil {
		return nil, err
	}
	var out []*engine.Info
	for _, in := range list {
		if len(services) == 0 || contains(services, serviceOf(in)) {
			out = append(out, in)
		}
	}
	sortContainers(out)
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// orphans are the project's containers whose service the file no longer
// has (a service a profile hides is not an orphan).
func (c *Compose) orphans(list []*engine.Info) []*engine.Info {
	var out []*engine.Info
	for _, in := range list {
		s := serviceOf(in)
		if _, ok := c.Project.Service(s); ok || contains(c.Project.Disabled, s) {
			continue
		}
		out = append(out, in)
	}
	return out
}

// stopTimeout is the service's stop_grace_period in seconds (or the
// command's -t), nil for the engine's default.
func stopTimeout(s *model.Service, override *int) *int {
	if override != nil {
		return override
	}
	if s != nil && s.StopGracePeriod != nil {
		t := int(s.StopGracePeriod.Round(time.Second) / time.Second)
		return &t
	}
	return nil
}

// stopRemove stops (if running) and removes one container.
func (c *Compose) stopRemove(ctx context.Context, in *engine.Info, timeout *int, volumes bool) error {
	if running(in) {
		if err := c.Backend.Stop(ctx, in.Name, timeout); err != nil {
			return fmt.Errorf("stop %s: %w", in.Name, err)
		}
		c.event("Container", in.Name, "Stopped")
	}
	if err := c.Backend.Remove(ctx, in.Name, true, volumes); err != nil {
		return fmt.Errorf("remove %s: %w", in.Name, err)
	}
	c.event("Container", in.Name, "Removed")
	return nil
}

// Labels are the labels compose puts on container number n of s (n 0: a
// one-off container, which has no number).
func (c *Compose) Labels(s *model.Service, n int, imageID string, oneoff bool) map[string]string {
	p := c.Project
	l := map[string]string{}
	for k, v := range s.Labels {
		l[k] = v
	}
	l[model.LabelProject] = p.Name
	l[model.LabelService] = s.Name
	l[model.LabelOneoff] = "False"
	if oneoff {
		l[model.LabelOneoff] = "True"
	}
	if n > 0 {
		l[model.LabelNumber] = strconv.Itoa(n)
	}
	l[model.LabelConfigHash] = model.ConfigHash(*s)
	l[model.LabelWorkingDir] = p.WorkingDir
	l[model.LabelConfigFiles] = strings.Join(p.Files, ",")
	l[model.LabelVersion] = model.Version
	l[model.LabelImage] = imageID
	var deps []string
	for _, d := range sortedKeys(s.DependsOn) {
		dep := s.DependsOn[d]
		deps = append(deps, fmt.Sprintf("%s:%s:%t", d, dep.Condition, dep.Restart))
	}
	l[model.LabelDependsOn] = strings.Join(deps, ",")
	return l
}

// create makes container n of s.
func (c *Compose) create(ctx context.Context, s *model.Service, n int, imageID string) error {
	name := c.Project.ContainerName(s, n)
	spec := ContainerSpec{Project: c.Project, Service: s, Name: name, Number: n,
		Labels: c.Labels(s, n, imageID, false), ImageID: imageID}
	if _, err := c.Backend.Create(ctx, spec); err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	// The first network is the container's from create on; the others are
	// joined before it starts, as compose connects them.
	if keys := networkKeys(s); len(keys) > 1 {
		for _, key := range keys[1:] {
			ep := s.Networks[key]
			ep.Aliases = append([]string{s.Name}, ep.Aliases...)
			if err := c.Backend.Connect(ctx, networkName(c.Project, key), name, ep); err != nil {
				return fmt.Errorf("connect %s to %s: %w", name, networkName(c.Project, key), err)
			}
		}
	}
	return nil
}

// Up makes the project's networks, volumes and images, then its
// containers in dependency order: first each service's plan (keep,
// create, recreate, remove), then the starts, each service after its
// dependencies' conditions hold.
func (c *Compose) Up(ctx context.Context, o UpOptions) error {
	if o.ForceRecreate && o.NoRecreate {
		return errors.New("--force-recreate and --no-recreate are incompatible")
	}
	targets, err := c.expand(o.Services, !o.NoDeps)
	if err != nil {
		return err
	}
	order, err := c.order(targets)
	if err != nil {
		return err
	}
	all, err := c.Backend.Containers(ctx, c.projectLabels(), true)
	if err != nil {
		return err
	}
	if orphans := c.orphans(all); len(orphans) > 0 {
		if o.RemoveOrphans {
			for _, in := range orphans {
				if err := c.stopRemove(ctx, in, o.Timeout, false); err != nil {
					return err
				}
			}
		} else {
			names := make([]string, len(orphans))
			for i, in := range orphans {
				names[i] = in.Name
			}
			c.warn("Found orphan containers (%s) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", strings.Join(names, ", "))
		}
	}
	if err := c.ensureNetworks(ctx, targets); err != nil {
		return err
	}
	if err := c.ensureVolumes(ctx, targets); err != nil {
		return err
	}
	ids, err := c.ensureImages(ctx, targets, o.Build, o.NoBuild)
	if err != nil {
		return err
	}
	for _, name := range order {
		s, _ := c.Project.Service(name)
		policy := RecreateDiverged
		if len(o.Services) == 0 || contains(o.Services, name) {
			switch {
			case o.ForceRecreate:
				policy = RecreateForce
			case o.NoRecreate:
				policy = RecreateNever
			}
		}
		if err := c.converge(ctx, s, all, ids[name], policy, o.Timeout); err != nil {
			return err
		}
	}
	for _, name := range order {
		s, _ := c.Project.Service(name)
		if err := c.waitDependencies(ctx, s, targets); err != nil {
			return err
		}
		if err := c.startService(ctx, s); err != nil {
			return err
		}
	}
	if o.Wait {
		return c.wait(ctx, targets, o.WaitTimeout)
	}
	return nil
}

// existing is the plan's view of a container.
func existing(in *engine.Info) Existing {
	return Existing{Name: in.Name, Number: number(in), Running: in.State.Running, Restarting: in.State.Restarting,
		ConfigHash: in.Config.Labels[model.LabelConfigHash], ImageID: in.Config.Labels[model.LabelImage], Created: in.Created}
}

// converge carries out the plan of one service, except the starts.
func (c *Compose) converge(ctx context.Context, s *model.Service, all []*engine.Info, imageID, policy string, timeout *int) error {
	var have []Existing
	byName := map[string]*engine.Info{}
	for _, in := range all {
		if serviceOf(in) == s.Name {
			have = append(have, existing(in))
			byName[in.Name] = in
		}
	}
	want := Desired{Service: s.Name, Scale: max(s.Scale, 0), ConfigHash: model.ConfigHash(*s), ImageID: imageID}
	for _, st := range Plan(want, have, policy) {
		switch st.Action {
		case Keep:
			c.event("Container", st.Name, "Running")
		case Start: // the start phase starts it
		case Create:
			if err := c.create(ctx, s, st.Number, imageID); err != nil {
				return err
			}
			c.event("Container", c.Project.ContainerName(s, st.Number), "Created")
		case Recreate:
			in := byName[st.Name]
			if running(in) {
				if err := c.Backend.Stop(ctx, in.Name, stopTimeout(s, timeout)); err != nil {
					return fmt.Errorf("stop %s: %w", in.Name, err)
				}
			}
			// The anonymous volumes go with the old container (compose
			// hands them to the new one; minibox has no way to).
			if err := c.Backend.Remove(ctx, in.Name, true, true); err != nil {
				return fmt.Errorf("remove %s: %w", in.Name, err)
			}
			if err := c.create(ctx, s, st.Number, imageID); err != nil {
				return err
			}
			c.event("Container", c.Project.ContainerName(s, st.Number), "Recreated")
		case Remove:
			if err := c.stopRemove(ctx, byName[st.Name], stopTimeout(s, timeout), false); err != nil {
				return err
			}
		}
	}
	return nil
}

// startService starts the service's containers that do not run.
func (c *Compose) startService(ctx context.Context, s *model.Service) error {
	list, err := c.Containers(ctx, true, s.Name)
	if err != nil {
		return err
	}
	for _, in := range list {
		if running(in) {
			continue
		}
		if err := c.Backend.Start(ctx, in.Name); err != nil {
			return fmt.Errorf("start %s: %w", in.Name, err)
		}
		c.event("Container", in.Name, "Started")
	}
	return nil
}

// waitDependencies waits until each depends_on condition of s holds:
// service_started needs nothing more than the order, service_healthy the
// dependency's healthcheck healthy, service_completed_successfully its
// exit with status 0. A dependency with required: false that fails is a
// warning.
func (c *Compose) waitDependencies(ctx context.Context, s *model.Service, targets []string) error {
	for _, name := range sortedKeys(s.DependsOn) {
		dep := s.DependsOn[name]
		if dep.Condition == "" || dep.Condition == "service_started" {
			continue
		}
		ds, ok := c.Project.Service(name)
		if !ok || ds.Scale <= 0 {
			continue // disabled (--no-deps, a profile) or scaled to 0
		}
		list, err := c.Containers(ctx, true, name)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			if dep.Required {
				return fmt.Errorf("%s is missing dependency %s", s.Name, name)
			}
			c.warn("%s is missing dependency %s", s.Name, name)
			continue
		}
		for _, in := range list {
			c.event("Container", in.Name, "Waiting")
		}
		if err := c.waitDependency(ctx, name, dep, list); err != nil {
			return err
		}
	}
	return nil
}

func (c *Compose) waitDependency(ctx context.Context, name string, dep model.Dependency, list []*engine.Info) error {
	for {
		var done bool
		var err error
		switch dep.Condition {
		case "service_healthy":
			done, err = c.healthy(ctx, list, false)
			if err != nil {
				if !dep.Required {
					c.warn("optional dependency %q failed to start: %v", name, err)
					return nil
				}
				return fmt.Errorf("dependency failed to start: %w", err)
			}
			if done {
				for _, in := range list {
					c.event("Container", in.Name, "Healthy")
				}
			}
		case "service_completed_successfully":
			var code int
			done, code, err = c.completed(ctx, list)
			if err != nil {
				return err
			}
			if done {
				if code != 0 {
					msg := fmt.Sprintf("%q didn't complete successfully: exit %d", name, code)
					if !dep.Required {
						c.warn("optional dependency %s", msg)
						return nil
					}
					return errors.New("service " + msg)
				}
				for _, in := range list {
					c.event("Container", in.Name, "Exited")
				}
			}
		default:
			c.warn("unsupported depends_on condition: %s", dep.Condition)
			return nil
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(PollInterval):
		}
	}
}

// healthy is compose's isServiceHealthy: every container healthy (or,
// with fallbackRunning, running when it has no healthcheck); an unhealthy
// or exited one is an error.
func (c *Compose) healthy(ctx context.Context, list []*engine.Info, fallbackRunning bool) (bool, error) {
	for _, ref := range list {
		in, err := c.Backend.Inspect(ctx, ref.ID)
		if err != nil {
			return false, err
		}
		if in.State.Status == "exited" {
			return false, fmt.Errorf("container %s exited (%d)", in.Name, in.State.ExitCode)
		}
		hc := in.Config.Healthcheck
		noCheck := hc == nil || len(hc.Test) == 0 || hc.Test[0] == "NONE"
		if noCheck && fallbackRunning {
			if !in.State.Running {
				return false, nil
			}
			continue
		}
		if noCheck {
			return false, fmt.Errorf("container %s has no healthcheck configured", in.Name)
		}
		if in.State.Health == nil {
			return false, nil // the monitor has not written its first result
		}
		switch in.State.Health.Status {
		case "healthy":
		case "unhealthy":
			return false, fmt.Errorf("container %s is unhealthy", in.Name)
		case "starting", "":
			return false, nil
		default:
			return false, fmt.Errorf("container %s had unexpected health status %q", in.Name, in.State.Health.Status)
		}
	}
	return true, nil
}

// completed is compose's isServiceCompleted: one container has exited.
func (c *Compose) completed(ctx context.Context, list []*engine.Info) (bool, int, error) {
	for _, ref := range list {
		in, err := c.Backend.Inspect(ctx, ref.ID)
		if err != nil {
			return false, 0, err
		}
		if in.State.Status == "exited" {
			return true, in.State.ExitCode, nil
		}
	}
	return false, 0, nil
}

// wait is --wait: every container of the services running, and healthy
// when it has a healthcheck.
func (c *Compose) wait(ctx context.Context, services []string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	for _, name := range services {
		list, err := c.Containers(ctx, true, name)
		if err != nil {
			return err
		}
		for {
			ok, err := c.healthy(ctx, list, true)
			if err != nil {
				return err
			}
			if ok {
				for _, in := range list {
					c.event("Container", in.Name, "Healthy")
				}
				break
			}
			select {
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("timeout waiting for %s to be running and healthy", name)
				}
				return ctx.Err()
			case <-time.After(PollInterval):
			}
		}
	}
	return nil
}

// networkKeys are the project networks a service is on.
func networkKeys(s *model.Service) []string {
	if s.NetworkMode != "" {
		return nil
	}
	if len(s.Networks) == 0 {
		return []string{"default"}
	}
	return s.NetworkNames()
}

func (c *Compose) ensureNetworks(ctx context.Context, services []string) error {
	seen := map[string]bool{}
	var keys []string
	for _, name := range services {
		s, _ := c.Project.Service(name)
		for _, key := range networkKeys(s) {
			if !seen[key] {
				seen[key] = true
				keys = append(keys, key)
			}
		}
	}
	// External networks are checked before anything is made.
	for _, key := range keys {
		if n := c.Project.Networks[key]; n.External {
			real := networkName(c.Project, key)
			if _, ok, err := c.Backend.Network(ctx, real); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("network %s declared as external, but could not be found", real)
			}
		}
	}
	for _, key := range keys {
		n := c.Project.Networks[key]
		if n.External {
			continue
		}
		real := networkName(c.Project, key)
		labels, ok, err := c.Backend.Network(ctx, real)
		if err != nil {
			return err
		}
		if ok {
			if labels[model.LabelProject] != c.Project.Name {
				c.warn("a network with name %s exists but was not created for project %q.\nSet `external: true` to use an existing network", real, c.Project.Name)
			}
			continue
		}
		l := map[string]string{}
		for k, v := range n.Labels {
			l[k] = v
		}
		l[model.LabelNetwork] = key
		l[model.LabelProject] = c.Project.Name
		l[model.LabelVersion] = model.Version
		if err := c.Backend.CreateNetwork(ctx, real, n, l); err != nil {
			return fmt.Errorf("create network %s: %w", real, err)
		}
		c.event("Network", real, "Created")
	}
	return nil
}

func (c *Compose) ensureVolumes(ctx context.Context, services []string) error {
	seen := map[string]bool{}
	for _, name := range services {
		s, _ := c.Project.Service(name)
		for _, m := range s.Volumes {
			if m.Type != "volume" || m.Source == "" || seen[m.Source] {
				continue
			}
			seen[m.Source] = true
			v := c.Project.Volumes[m.Source]
			real := volumeName(c.Project, m.Source)
			labels, ok, err := c.Backend.Volume(ctx, real)
			if err != nil {
				return err
			}
			if v.External {
				if !ok {
					return fmt.Errorf("external volume %q not found", real)
				}
				continue
			}
			if ok {
				if labels[model.LabelProject] != c.Project.Name {
					c.warn("volume %q already exists but was not created by Docker Compose. Use `external: true` to use an existing volume", real)
				}
				continue
			}
			l := map[string]string{}
			for k, val := range v.Labels {
				l[k] = val
			}
			l[model.LabelVolume] = m.Source
			l[model.LabelProject] = c.Project.Name
			l[model.LabelVersion] = model.Version
			if err := c.Backend.CreateVolume(ctx, real, v, l); err != nil {
				return fmt.Errorf("create volume %s: %w", real, err)
			}
			c.event("Volume", real, "Created")
		}
	}
	return nil
}

// ensureImages builds or pulls what the services need and returns each
// one's image ID.
func (c *Compose) ensureImages(ctx context.Context, services []string, rebuild, noBuild bool) (map[string]string, error) {
	ids := map[string]string{}
	for _, name := range services {
		s, _ := c.Project.Service(name)
		id, err := c.Backend.ImageID(ctx, s.Image)
		if err != nil {
			return nil, err
		}
		switch {
		case s.Build != nil && (rebuild || (id == "" && !noBuild)) && s.PullPolicy != "never":
			if err := c.build(ctx, s, false, false); err != nil {
				return nil, err
			}
		case s.Build == nil && (id == "" && s.PullPolicy != "never" || s.PullPolicy == "always"):
			if err := c.pull(ctx, s); err != nil {
				return nil, err
			}
		case id == "":
			return nil, fmt.Errorf("service %q: image %s not found", s.Name, s.Image)
		}
		if id, err = c.Backend.ImageID(ctx, s.Image); err != nil {
			return nil, err
		}
		if id == "" {
			return nil, fmt.Errorf("service %q: image %s not found", s.Name, s.Image)
		}
		ids[name] = id
	}
	return ids, nil
}

func (c *Compose) build(ctx context.Context, s *model.Service, noCache, pull bool) error {
	b := *s.Build
	tags := append([]string{s.Image}, b.Tags...)
	spec := BuildSpec{Service: s.Name, Build: b, Tags: tags, NoCache: noCache || b.NoCache, Pull: pull || b.Pull, Out: c.out()}
	if err := c.Backend.Build(ctx, spec); err != nil {
		return fmt.Errorf("failed to build %s: %w", s.Name, err)
	}
	c.event("Service", s.Name, "Built")
	return nil
}

func (c *Compose) pull(ctx context.Context, s *model.Service) error {
	if err := c.Backend.Pull(ctx, s.Image, io.Discard); err != nil {
		return fmt.Errorf("pull %s: %w", s.Image, err)
	}
	c.event("Image", s.Image, "Pulled")
	return nil
}

// Down stops and removes the project's containers (dependents first),
// then its networks; -v its named volumes and the containers' anonymous
// ones, --rmi its images.
func (c *Compose) Down(ctx context.Context, o DownOptions) error {
	all, err := c.Backend.Containers(ctx, map[string]string{model.LabelProject: c.Project.Name}, true)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(c.Project.Services))
	for _, s := range c.Project.Services {
		names = append(names, s.Name)
	}
	order, err := c.order(names)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range graph.Reverse(order) {
		s, _ := c.Project.Service(name)
		for _, in := range all {
			if serviceOf(in) == name {
				if err := c.stopRemove(ctx, in, stopTimeout(s, o.Timeout), o.Volumes); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	orphans := c.orphans(all)
	if o.RemoveOrphans {
		for _, in := range orphans {
			if err := c.stopRemove(ctx, in, o.Timeout, o.Volumes); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, key := range sortedKeys(c.Project.Networks) {
		n := c.Project.Networks[key]
		if n.External {
			continue
		}
		real := networkName(c.Project, key)
		labels, ok, err := c.Backend.Network(ctx, real)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok || labels[model.LabelProject] != c.Project.Name {
			continue
		}
		if err := c.Backend.RemoveNetwork(ctx, real); err != nil {
			if !o.RemoveOrphans && len(orphans) > 0 {
				c.warn("network %s: %v", real, err) // the orphans still use it, as compose's "Resource is still in use"
				continue
			}
			errs = append(errs, fmt.Errorf("remove network %s: %w", real, err))
			continue
		}
		c.event("Network", real, "Removed")
	}
	if o.Volumes {
		for _, key := range sortedKeys(c.Project.Volumes) {
			v := c.Project.Volumes[key]
			if v.External {
				continue
			}
			real := volumeName(c.Project, key)
			labels, ok, err := c.Backend.Volume(ctx, real)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !ok || labels[model.LabelProject] != c.Project.Name {
				continue
			}
			if err := c.Backend.RemoveVolume(ctx, real); err != nil {
				errs = append(errs, fmt.Errorf("remove volume %s: %w", real, err))
				continue
			}
			c.event("Volume", real, "Removed")
		}
	}
	switch o.RMI {
	case "":
	case "local", "all":
		seen := map[string]bool{}
		for _, s := range c.Project.Services {
			local := s.Build != nil && s.Image == c.Project.Name+"-"+s.Name
			if (o.RMI == "local" && !local) || seen[s.Image] {
				continue
			}
			seen[s.Image] = true
			if id, err := c.Backend.ImageID(ctx, s.Image); err != nil || id == "" {
				continue
			}
			if err := c.Backend.RemoveImage(ctx, s.Image); err != nil {
				errs = append(errs, fmt.Errorf("remove image %s: %w", s.Image, err))
				continue
			}
			c.event("Image", s.Image, "Removed")
		}
	default:
		errs = append(errs, fmt.Errorf("invalid --rmi option %q", o.RMI))
	}
	return errors.Join(errs...)
}

// Start starts the services' existing containers, dependencies first,
// each after its dependencies' conditions hold.
func (c *Compose) Start(ctx context.Context, services []string) error {
	targets, err := c.expand(services, false)
	if err != nil {
		return err
	}
	order, err := c.order(targets)
	if err != nil {
		return err
	}
	for _, name := range order {
		s, _ := c.Project.Service(name)
		list, err := c.Containers(ctx, true, name)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			if len(services) > 0 {
				return fmt.Errorf("service %q has no container to start", name)
			}
			continue
		}
		if err := c.waitDependencies(ctx, s, targets); err != nil {
			return err
		}
		if err := c.startService(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// Stop stops the services' containers, dependents first.
func (c *Compose) Stop(ctx context.Context, services []string, timeout *int) error {
	targets, err := c.expand(services, false)
	if err != nil {
		return err
	}
	order, err := c.order(targets)
	if err != nil {
		return err
	}
	for _, name := range graph.Reverse(order) {
		s, _ := c.Project.Service(name)
		list, err := c.Containers(ctx, false, name)
		if err != nil {
			return err
		}
		for _, in := range list {
			if err := c.Backend.Stop(ctx, in.Name, stopTimeout(s, timeout)); err != nil {
				return fmt.Errorf("stop %s: %w", in.Name, err)
			}
			c.event("Container", in.Name, "Stopped")
		}
	}
	return nil
}

// Restart restarts the services' containers (stopped ones too), in
// dependency order, as compose restart does.
func (c *Compose) Restart(ctx context.Context, services []string, timeout *int) error {
	targets, err := c.expand(services, false)
	if err != nil {
		return err
	}
	order, err := c.order(targets)
	if err != nil {
		return err
	}
	for _, name := range order {
		s, _ := c.Project.Service(name)
		list, err := c.Containers(ctx, true, name)
		if err != nil {
			return err
		}
		for _, in := range list {
			if running(in) {
				if err := c.Backend.Stop(ctx, in.Name, stopTimeout(s, timeout)); err != nil {
					return fmt.Errorf("stop %s: %w", in.Name, err)
				}
			}
			if err := c.Backend.Start(ctx, in.Name); err != nil {
				return fmt.Errorf("start %s: %w", in.Name, err)
			}
			c.event("Container", in.Name, "Restarted")
		}
	}
	return nil
}

// Remove removes the services' stopped containers (force: running ones
// too; stop: stopped first; volumes: their anonymous volumes). Asking
// (compose rm's prompt) is the command's part.
func (c *Compose) Remove(ctx context.Context, services []string, force, stop, volumes bool) error {
	list, err := c.Containers(ctx, true, services...)
	if err != nil {
		return err
	}
	if stop {
		if err := c.Stop(ctx, services, nil); err != nil {
			return err
		}
		if list, err = c.Containers(ctx, true, services...); err != nil {
			return err
		}
	}
	var removed int
	for _, in := range list {
		if running(in) && !force {
			continue
		}
		if err := c.Backend.Remove(ctx, in.Name, true, volumes); err != nil {
			return fmt.Errorf("remove %s: %w", in.Name, err)
		}
		c.event("Container", in.Name, "Removed")
		removed++
	}
	if removed == 0 {
		fmt.Fprintln(c.errw(), "No stopped containers")
	}
	return nil
}

// Build builds the services that have a build section (all of them when
// services is empty).
func (c *Compose) Build(ctx context.Context, services []string, noCache, pull bool) error {
	targets, err := c.expand(services, false)
	if err != nil {
		return err
	}
	for _, name := range targets {
		s, _ := c.Project.Service(name)
		if s.Build == nil {
			continue
		}
		if err := c.build(ctx, s, noCache, pull); err != nil {
			return err
		}
	}
	return nil
}

// Pull pulls the services' images (not the ones only built).
func (c *Compose) Pull(ctx context.Context, services []string) error {
	targets, err := c.expand(services, false)
	if err != nil {
		return err
	}
	for _, name := range targets {
		s, _ := c.Project.Service(name)
		if s.Build != nil {
			continue
		}
		if err := c.pull(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// Push pushes the built services' images (every tag).
func (c *Compose) Push(ctx context.Context, services []string) error {
	targets, err := c.expand(services, false)
	if err != nil {
		return err
	}
	for _, name := range targets {
		s, _ := c.Project.Service(name)
		if s.Build == nil {
			continue
		}
		for _, ref := range append([]string{s.Image}, s.Build.Tags...) {
			if err := c.Backend.Push(ctx, ref, io.Discard); err != nil {
				return fmt.Errorf("push %s: %w", ref, err)
			}
			c.event("Image", ref, "Pushed")
		}
	}
	return nil
}

// RunOneoff is `compose run`: the service's dependencies brought up
// (unless NoDeps), then a one-off container of service, named
// PROJECT-SERVICE-run-HEX, labelled oneoff=True; its exit status.
func (c *Compose) RunOneoff(ctx context.Context, service string, o RunOptions) (int, error) {
	s, err := c.service(service)
	if err != nil {
		return 0, err
	}
	if !o.NoDeps && len(s.DependsOn) > 0 {
		var deps []string
		for _, d := range sortedKeys(s.DependsOn) {
			if _, ok := c.Project.Service(d); ok {
				deps = append(deps, d)
			}
		}
		if len(deps) > 0 {
			if err := c.Up(ctx, UpOptions{Services: deps, Detach: true}); err != nil {
				return 0, err
			}
			if err := c.waitDependencies(ctx, s, deps); err != nil {
				return 0, err
			}
		}
	} else if err := c.ensureNetworks(ctx, []string{service}); err != nil {
		return 0, err
	}
	if err := c.ensureVolumes(ctx, []string{service}); err != nil {
		return 0, err
	}
	ids, err := c.ensureImages(ctx, []string{service}, false, false)
	if err != nil {
		return 0, err
	}
	run := *s
	if o.Command != nil {
		run.Command = o.Command
	}
	if o.Entrypoint != nil {
		run.Entrypoint = []string{*o.Entrypoint}
		if *o.Entrypoint == "" {
			run.Entrypoint = []string{}
		}
	}
	if len(o.Env) > 0 {
		run.Environment = mergeEnv(s.Environment, o.Env)
	}
	if o.User != "" {
		run.User = o.User
	}
	if o.WorkDir != "" {
		run.WorkingDir = o.WorkDir
	}
	// compose run publishes no ports (--service-ports would) and keeps no
	// restart policy.
	run.Ports = nil
	run.Restart = ""
	// A terminal for the one-off's process only when there is one to give
	// (compose: unless -T, when its own stdin is a terminal).
	run.Tty = !o.NoTTY && !o.Detach && term.IsTerminal(int(os.Stdin.Fd()))
	run.StdinOpen = !o.Detach
	run.ContainerName = ""
	name := o.Name
	if name == "" {
		name = fmt.Sprintf("%s-%s-run-%s", c.Project.Name, s.Name, randomHex(6))
	}
	spec := ContainerSpec{Project: c.Project, Service: &run, Name: name, Labels: c.Labels(s, 0, ids[service], true), ImageID: ids[service]}
	return c.Backend.Run(ctx, spec, o)
}

// mergeEnv puts over (KEY=VALUE, or KEY alone: removed) over env.
func mergeEnv(env, over []string) []string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	for _, kv := range over {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	return out
}
