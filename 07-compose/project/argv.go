package project

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"minibox/04-storage/engine"
	"minibox/07-compose/model"
)

// CreateArgs is the `minibox create` command line of spec's container, as
// a user would type it (without the program's name), and what no flag of
// lesson 04-06 says, set on the engine's request instead: an entrypoint of
// several words, the healthcheck, the restart policy, the stop signal and
// timeout. The first network is the container's at create; the others are
// joined with `network connect` (Compose.create does).
func CreateArgs(spec ContainerSpec) ([]string, func(req *engine.CreateRequest) error, error) {
	return commandArgs("create", spec, nil)
}

// commandArgs is create or run (verb) of spec, with extra flags before the image.
func commandArgs(verb string, spec ContainerSpec, extra []string) ([]string, func(req *engine.CreateRequest) error, error) {
	p, s := spec.Project, spec.Service
	args := []string{verb, "--name", spec.Name}
	for _, k := range sortedKeys(spec.Labels) {
		args = append(args, "--label", k+"="+spec.Labels[k])
	}
	if s.Hostname != "" {
		args = append(args, "--hostname", s.Hostname)
	}
	if s.User != "" {
		args = append(args, "--user", s.User)
	}
	if s.WorkingDir != "" {
		args = append(args, "--workdir", s.WorkingDir)
	}
	if s.Tty {
		args = append(args, "--tty")
	}
	if s.StdinOpen {
		args = append(args, "--interactive")
	}
	for _, kv := range s.Environment {
		args = append(args, "--env", kv)
	}

	// The network: a mode, or the first of the service's networks.
	switch mode := s.NetworkMode; {
	case mode == "":
		keys := networkKeys(s)
		key := keys[0]
		args = append(args, "--network", networkName(p, key))
		// Compose's aliases: the service's name, then the file's.
		args = append(args, "--network-alias", s.Name)
		sn := s.Networks[key]
		for _, a := range sn.Aliases {
			args = append(args, "--network-alias", a)
		}
		if sn.IPv4Address != "" {
			args = append(args, "--ip", sn.IPv4Address)
		}
	case strings.HasPrefix(mode, "service:"):
		// service:NAME shares the network of that service's first container.
		other, ok := p.Service(strings.TrimPrefix(mode, "service:"))
		if !ok {
			return nil, nil, fmt.Errorf("service %q: network_mode %s: no such service", s.Name, mode)
		}
		args = append(args, "--network", "container:"+p.ContainerName(other, 1))
	default: // host, none, container:NAME, bridge
		args = append(args, "--network", mode)
	}
	for _, port := range s.Ports {
		args = append(args, "--publish", portSpec(port))
	}
	for _, e := range s.Expose {
		args = append(args, "--expose", e)
	}
	for _, d := range s.DNS {
		args = append(args, "--dns", d)
	}
	for _, h := range s.ExtraHosts {
		args = append(args, "--add-host", h)
	}
	for _, m := range s.Volumes {
		flag, val, err := mountSpec(p, m)
		if err != nil {
			return nil, nil, fmt.Errorf("service %q: %w", s.Name, err)
		}
		args = append(args, flag, val)
	}
	if s.ReadOnly {
		args = append(args, "--read-only")
	}
	if s.Privileged {
		args = append(args, "--privileged")
	}
	for _, c := range s.CapAdd {
		args = append(args, "--cap-add", c)
	}
	for _, c := range s.CapDrop {
		args = append(args, "--cap-drop", c)
	}
	if s.Init != nil && *s.Init {
		args = append(args, "--init")
	}
	if r := s.Resources; r.Memory > 0 || r.NanoCPUs > 0 || r.Pids != 0 {
		if r.Memory > 0 {
			args = append(args, "--memory", strconv.FormatInt(r.Memory, 10)+"b")
		}
		if r.NanoCPUs > 0 {
			args = append(args, "--cpus", strconv.FormatFloat(float64(r.NanoCPUs)/1e9, 'f', -1, 64))
		}
		if r.Pids != 0 {
			args = append(args, "--pids-limit", strconv.FormatInt(r.Pids, 10))
		}
	}
	restart, err := restartPolicy(s.Restart)
	if err != nil {
		return nil, nil, fmt.Errorf("service %q: %w", s.Name, err)
	}
	args = append(args, extra...)
	args = append(args, s.Image)
	args = append(args, s.Command...)

	hc := healthConfig(s.Healthcheck)
	adjust := func(req *engine.CreateRequest) error {
		if s.Entrypoint != nil {
			req.Config.Entrypoint = append([]string{}, s.Entrypoint...)
		}
		if hc != nil {
			req.Config.Healthcheck = hc
		}
		if restart.Name != "" {
			req.HostConfig.RestartPolicy = restart
		}
		if s.StopSignal != "" {
			req.Config.StopSignal = s.StopSignal
		}
		if t := stopTimeout(s, nil); t != nil {
			req.Config.StopTimeout = t
		}
		return nil
	}
	return args, adjust, nil
}

// networkName is the real name of a project network (its key: PROJECT_KEY).
func networkName(p *model.Project, key string) string {
	if n, ok := p.Networks[key]; ok && n.Name != "" {
		return n.Name
	}
	return p.Name + "_" + key
}

// volumeName is the real name of a project volume.
func volumeName(p *model.Project, key string) string {
	if v, ok := p.Volumes[key]; ok && v.Name != "" {
		return v.Name
	}
	return p.Name + "_" + key
}

// portSpec is a port as -p takes it: [IP:][PUBLISHED:]TARGET[/PROTO].
func portSpec(p model.Port) string {
	s := p.Target
	switch {
	case p.HostIP != "":
		ip := p.HostIP
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		s = ip + ":" + p.Published + ":" + s
	case p.Published != "":
		s = p.Published + ":" + s
	}
	if p.Protocol != "" && p.Protocol != "tcp" {
		s += "/" + p.Protocol
	}
	return s
}

// mountSpec is one volumes:/tmpfs: entry as a flag: --mount for what
// --mount says exactly, -v for a bind whose missing source is made
// (create_host_path, the short form's way).
func mountSpec(p *model.Project, m model.Mount) (string, string, error) {
	var f []string
	switch m.Type {
	case "bind":
		if m.CreateHostPath {
			v := m.Source + ":" + m.Target
			if m.ReadOnly {
				v += ":ro"
			}
			return "--volume", v, nil
		}
		f = append(f, "type=bind", "source="+m.Source, "target="+m.Target)
	case "volume":
		f = append(f, "type=volume")
		if m.Source != "" {
			f = append(f, "source="+volumeName(p, m.Source))
		}
		f = append(f, "target="+m.Target)
		if m.NoCopy {
			f = append(f, "volume-nocopy")
		}
	case "tmpfs":
		f = append(f, "type=tmpfs", "target="+m.Target)
		if m.TmpfsSize > 0 {
			f = append(f, "tmpfs-size="+strconv.FormatInt(m.TmpfsSize, 10))
		}
		if m.TmpfsMode != 0 {
			f = append(f, "tmpfs-mode="+strconv.FormatUint(uint64(m.TmpfsMode), 8))
		}
	default:
		return "", "", fmt.Errorf("volume type %q is not supported by minibox", m.Type)
	}
	if m.ReadOnly && m.Type != "tmpfs" {
		f = append(f, "readonly")
	}
	return "--mount", strings.Join(f, ","), nil
}

// restartPolicy reads restart: as Docker's --restart does.
func restartPolicy(s string) (engine.RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	switch name {
	case "", "no":
		if hasCount {
			return engine.RestartPolicy{}, fmt.Errorf("maximum retry count cannot be used with restart policy '%s'", name)
		}
		return engine.RestartPolicy{}, nil
	case "always", "unless-stopped":
		if hasCount {
			return engine.RestartPolicy{}, fmt.Errorf("maximum retry count cannot be used with restart policy '%s'", name)
		}
		return engine.RestartPolicy{Name: name}, nil
	case "on-failure":
		p := engine.RestartPolicy{Name: name}
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return engine.RestartPolicy{}, fmt.Errorf("invalid restart policy format: maximum retry count must be a positive integer")
			}
			p.MaximumRetryCount = n
		}
		return p, nil
	}
	return engine.RestartPolicy{}, fmt.Errorf("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", name)
}

// healthConfig is the container's healthcheck (nil: the image's).
func healthConfig(h *model.Healthcheck) *engine.HealthConfig {
	if h == nil {
		return nil
	}
	if h.Disable {
		return &engine.HealthConfig{Test: []string{"NONE"}}
	}
	return &engine.HealthConfig{Test: append([]string{}, h.Test...), Interval: h.Interval, Timeout: h.Timeout,
		StartPeriod: h.StartPeriod, Retries: h.Retries}
}

// buildArgs is the `minibox build` command line of spec.
func buildArgs(spec BuildSpec) []string {
	b := spec.Build
	args := []string{"build"}
	for _, t := range spec.Tags {
		args = append(args, "--tag", t)
	}
	if b.Dockerfile != "" {
		df := b.Dockerfile
		if !filepath.IsAbs(df) {
			df = filepath.Join(b.Context, df) // -f is relative to the working directory
		}
		args = append(args, "--file", df)
	}
	if b.Target != "" {
		args = append(args, "--target", b.Target)
	}
	keys := make([]string, 0, len(b.Args))
	for k := range b.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := b.Args[k]; v != nil {
			args = append(args, "--build-arg", k+"="+*v)
		} else {
			args = append(args, "--build-arg", k)
		}
	}
	for _, k := range sortedKeys(b.Labels) {
		args = append(args, "--label", k+"="+b.Labels[k])
	}
	if spec.NoCache {
		args = append(args, "--no-cache")
	}
	if spec.Pull {
		args = append(args, "--pull")
	}
	return append(args, b.Context)
}
