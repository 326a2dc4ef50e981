package loader

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/go-units"

	"minibox/07-compose/model"
)

// convert turns compose-go's project (already merged, interpolated,
// normalised and with paths resolved) into the model.
func convert(src *types.Project) (*model.Project, error) {
	p := &model.Project{
		Name:       src.Name,
		WorkingDir: src.WorkingDir,
		Files:      slices.Clone(src.ComposeFiles),
		Networks:   map[string]model.Network{},
		Volumes:    map[string]model.Volume{},
		Source:     src,
	}
	for _, name := range slices.Sorted(maps.Keys(src.Services)) {
		s, err := convertService(src.Name, src.Services[name])
		if err != nil {
			return nil, fmt.Errorf("service %q: %w", name, err)
		}
		p.Services = append(p.Services, s)
	}
	p.Disabled = slices.Sorted(maps.Keys(src.DisabledServices))
	for key, n := range src.Networks {
		p.Networks[key] = convertNetwork(n)
	}
	for key, v := range src.Volumes {
		p.Volumes[key] = convertVolume(v)
	}
	return p, nil
}

func convertService(project string, s types.ServiceConfig) (model.Service, error) {
	m := model.Service{
		Name:          s.Name,
		Image:         s.Image,
		PullPolicy:    s.PullPolicy,
		Scale:         s.GetScale(),
		Command:       cloneNil(s.Command),
		Entrypoint:    cloneNil(s.Entrypoint),
		Environment:   environment(s.Environment),
		Labels:        mapNil(s.Labels),
		ContainerName: s.ContainerName,
		Hostname:      s.Hostname,
		User:          s.User,
		WorkingDir:    s.WorkingDir,
		Tty:           s.Tty,
		StdinOpen:     s.StdinOpen,
		Expose:        cloneNil(s.Expose),
		NetworkMode:   s.NetworkMode,
		DNS:           cloneNil(s.DNS),
		Restart:       restartPolicy(s),
		Healthcheck:   healthcheck(s.HealthCheck),
		Resources:     resources(s),
		CapAdd:        cloneNil(s.CapAdd),
		CapDrop:       cloneNil(s.CapDrop),
		Privileged:    s.Privileged,
		ReadOnly:      s.ReadOnly,
		Init:          s.Init,
		StopSignal:    s.StopSignal,
		Profiles:      cloneNil(s.Profiles),
	}
	if s.Build != nil {
		m.Build = &model.Build{
			Context:    s.Build.Context,
			Dockerfile: s.Build.Dockerfile,
			Args:       mapNil(s.Build.Args),
			Target:     s.Build.Target,
			Labels:     mapNil(s.Build.Labels),
			Tags:       cloneNil(s.Build.Tags),
			NoCache:    s.Build.NoCache,
			Pull:       s.Build.Pull,
		}
		if m.Image == "" {
			// compose v2's name for a built image (api.GetImageNameOrDefault).
			m.Image = project + "-" + s.Name
		}
	}
	if len(s.ExtraHosts) > 0 {
		m.ExtraHosts = s.ExtraHosts.AsList(":") // --add-host's form
		sort.Strings(m.ExtraHosts)
	}
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		m.StopGracePeriod = &d
	}
	for _, pc := range s.Ports {
		proto := pc.Protocol
		if proto == "" {
			proto = "tcp"
		}
		m.Ports = append(m.Ports, model.Port{
			HostIP:    pc.HostIP,
			Published: pc.Published,
			Target:    strconv.FormatUint(uint64(pc.Target), 10),
			Protocol:  proto,
		})
	}
	for _, v := range s.Volumes {
		mt := model.Mount{Type: v.Type, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
		if v.Bind != nil {
			mt.CreateHostPath = bool(v.Bind.CreateHostPath)
		}
		if v.Volume != nil {
			mt.NoCopy = v.Volume.NoCopy
		}
		if v.Tmpfs != nil {
			mt.TmpfsSize = int64(v.Tmpfs.Size)
			mt.TmpfsMode = v.Tmpfs.Mode
		}
		m.Volumes = append(m.Volumes, mt)
	}
	for _, t := range s.Tmpfs {
		mt, err := tmpfs(t)
		if err != nil {
			return m, err
		}
		m.Volumes = append(m.Volumes, mt)
	}
	if len(s.Networks) > 0 {
		m.Networks = map[string]model.ServiceNetwork{}
		for key, n := range s.Networks {
			var sn model.ServiceNetwork
			if n != nil {
				sn = model.ServiceNetwork{
					Aliases:     cloneNil(n.Aliases),
					IPv4Address: n.Ipv4Address,
					Priority:    n.Priority,
				}
			}
			m.Networks[key] = sn
		}
	}
	if len(s.DependsOn) > 0 {
		m.DependsOn = map[string]model.Dependency{}
		for name, d := range s.DependsOn {
			m.DependsOn[name] = model.Dependency{Condition: d.Condition, Required: d.Required, Restart: d.Restart}
		}
	}
	return m, nil
}

// environment is KEY=VALUE sorted. A variable named without a value that
// neither the shell nor .env sets is left out (compose passes it bare, and
// the engine then unsets it; our -e would look it up in its own environment).
func environment(env types.MappingWithEquals) []string {
	var out []string
	for k, v := range env {
		if v != nil {
			out = append(out, k+"="+*v)
		}
	}
	sort.Strings(out)
	return out
}

// restartPolicy is compose's getRestartPolicy: `restart:`, overridden by
// deploy.restart_policy (none → no, any → always).
func restartPolicy(s types.ServiceConfig) string {
	r := s.Restart
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		rp := s.Deploy.RestartPolicy
		switch rp.Condition {
		case "none", "no":
			r = "no"
		case "any", "always":
			r = "always"
		default:
			r = rp.Condition
		}
		if rp.MaxAttempts != nil && r == "on-failure" {
			r += ":" + strconv.FormatUint(*rp.MaxAttempts, 10)
		}
	}
	return r
}

func healthcheck(h *types.HealthCheckConfig) *model.Healthcheck {
	if h == nil {
		return nil
	}
	m := &model.Healthcheck{Test: cloneNil([]string(h.Test)), Disable: h.Disable}
	if len(m.Test) > 0 && m.Test[0] == "NONE" {
		m.Disable = true
	}
	if m.Disable {
		// what the engine takes for "no healthcheck, not even the image's"
		m.Test = []string{"NONE"}
		return m
	}
	dur := func(d *types.Duration) time.Duration {
		if d == nil {
			return 0
		}
		return time.Duration(*d)
	}
	m.Interval, m.Timeout = dur(h.Interval), dur(h.Timeout)
	m.StartPeriod, m.StartInterval = dur(h.StartPeriod), dur(h.StartInterval)
	if h.Retries != nil {
		m.Retries = int(*h.Retries)
	}
	return m
}

// resources is compose's getDeployResources: mem_limit, cpus and pids_limit,
// each overridden by deploy.resources.limits when that is set.
func resources(s types.ServiceConfig) model.Resources {
	r := model.Resources{
		Memory:   int64(s.MemLimit),
		NanoCPUs: int64(float64(s.CPUS) * 1e9),
		Pids:     s.PidsLimit,
	}
	if s.Deploy != nil && s.Deploy.Resources.Limits != nil {
		l := s.Deploy.Resources.Limits
		if l.MemoryBytes != 0 {
			r.Memory = int64(l.MemoryBytes)
		}
		if l.NanoCPUs != 0 {
			r.NanoCPUs = int64(float64(l.NanoCPUs) * 1e9)
		}
		if l.Pids > 0 {
			r.Pids = l.Pids
		}
	}
	return r
}

// tmpfs reads one `tmpfs:` entry as docker's --tmpfs: PATH[:OPTIONS], the
// options comma-separated mount options of which size= and mode= are kept.
func tmpfs(s string) (model.Mount, error) {
	target, opts, _ := strings.Cut(s, ":")
	m := model.Mount{Type: "tmpfs", Target: target}
	if !strings.HasPrefix(target, "/") {
		return m, fmt.Errorf("tmpfs %q: the path must be absolute", s)
	}
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "size":
			n, err := units.RAMInBytes(v)
			if err != nil {
				return m, fmt.Errorf("tmpfs %q: size: %w", s, err)
			}
			m.TmpfsSize = n
		case "mode":
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return m, fmt.Errorf("tmpfs %q: mode: %w", s, err)
			}
			m.TmpfsMode = uint32(n)
		case "ro":
			m.ReadOnly = true
		}
	}
	return m, nil
}

func convertNetwork(n types.NetworkConfig) model.Network {
	m := model.Network{
		Name:       n.Name,
		Driver:     n.Driver,
		DriverOpts: mapNil(n.DriverOpts),
		Internal:   n.Internal,
		External:   bool(n.External),
		Labels:     mapNil(n.Labels),
	}
	if m.Driver == "" && !m.External {
		m.Driver = "bridge"
	}
	if len(n.Ipam.Config) > 0 && n.Ipam.Config[0] != nil {
		c := n.Ipam.Config[0]
		m.Subnet, m.Gateway, m.IPRange = c.Subnet, c.Gateway, c.IPRange
	}
	return m
}

func convertVolume(v types.VolumeConfig) model.Volume {
	m := model.Volume{
		Name:       v.Name,
		Driver:     v.Driver,
		DriverOpts: mapNil(v.DriverOpts),
		External:   bool(v.External),
		Labels:     mapNil(v.Labels),
	}
	if m.Driver == "" && !m.External {
		m.Driver = "local"
	}
	return m
}

// cloneNil copies a list, keeping nil apart from empty (command: [] clears
// the image's CMD, a missing command keeps it).
func cloneNil[S ~[]E, E any](s S) []E {
	if s == nil {
		return nil
	}
	return append([]E{}, s...)
}

func mapNil[M ~map[K]V, K comparable, V any](m M) map[K]V {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(map[K]V(m))
}
