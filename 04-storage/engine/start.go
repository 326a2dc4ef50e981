package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// MonitorArg is the hidden first argument that makes this program a
// container's monitor (see IsMonitor).
const MonitorArg = "__minibox-monitor"

// StartError says the container could not start. Code is the exit status
// Docker gives for it: 127 when the command is not found, 126 when it cannot
// be executed, 125 for anything else.
type StartError struct {
	Code    int
	Message string
}

func (e *StartError) Error() string { return e.Message }

// startCode is Docker's reading of a runtime's error (daemon/start.go does
// the same): the runtime says why the exec failed only in words.
func startCode(msg string) int {
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"), strings.Contains(msg, "exec format error"):
		return 126
	}
	return 125
}

// monitorReply is the monitor's one message to the CLI that started it.
type monitorReply struct {
	Pid   int    `json:",omitempty"`
	Code  int    `json:",omitempty"`
	Error string `json:",omitempty"`
}

// Start starts a created or stopped container: it writes the bundle and
// starts the container's monitor, which runs the runtime's create and start
// and reports. attach, if not nil, is one end of a socket pair that becomes
// the monitor's first attach client before the container starts, so that
// not a byte of output is missed (`run` and `start -a`). Starting a running
// container does nothing.
func (e *Engine) Start(ref string, attach *os.File) error {
	return e.withContainer(ref, func(in *Info, l *lock) error {
		if in.State.Running || in.State.Restarting {
			return nil // as Docker's: a restarting container counts as started
		}
		if in.State.Dead {
			return fmt.Errorf("container %s is marked for removal and cannot be started", in.Name)
		}
		if alive(in.State.MonitorPid, in.State.MonitorStart) {
			return fmt.Errorf("container %s is still being stopped; try again", in.Name)
		}
		// A previous run whose monitor died leaves the runtime's container,
		// the cgroup and the mount: clean them first.
		e.waitInitGone(in.ID)
		if err := e.teardown(in.Container); err != nil {
			return err
		}
		if err := e.resetRestart(in.Container); err != nil {
			return err
		}
		if err := e.writeBundle(in.Container); err != nil {
			e.opts.Storage.Unmount(in.Container)
			return err
		}
		return e.startMonitor(in.ID, l, attach)
	})
}

// writeBundle mounts the root and writes EXEC/containers/ID/bundle/config.json.
func (e *Engine) writeBundle(c *Container) error {
	if c.Spec == nil {
		return fmt.Errorf("container %s has no spec", short(c.ID))
	}
	spec := *c.Spec
	spec.Mounts = slices.Clone(spec.Mounts)
	linux := *spec.Linux
	spec.Linux = &linux
	root, mounts, err := e.opts.Storage.Mount(c)
	if err != nil {
		return err
	}
	spec.Root = &specs.Root{Path: root, Readonly: c.HostConfig.ReadonlyRootfs}
	spec.Mounts = append(spec.Mounts, mounts...)
	mode := c.HostConfig.NetworkMode
	join := "" // a namespace to join instead of a new one
	switch {
	case mode == "host":
		linux.Namespaces = slices.DeleteFunc(slices.Clone(linux.Namespaces), func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
	case strings.HasPrefix(mode, "container:"):
		// --network container:NAME shares that container's namespace:
		// its interfaces, addresses, ports and lo (a Kubernetes pod).
		other, err := e.Inspect(strings.TrimPrefix(mode, "container:"))
		if err != nil {
			return err
		}
		if !other.State.Running {
			return fmt.Errorf("cannot join network of a non running container: %s", other.Name)
		}
		if join = other.NetworkSettings.SandboxKey; join == "" {
			join = fmt.Sprintf("/proc/%d/ns/net", other.State.Pid)
		}
	case mode == "", mode == "none", mode == "default":
	default:
		if e.opts.Networks == nil {
			return fmt.Errorf("network %s not found", mode)
		}
	}
	if e.opts.Networks != nil {
		// Lesson 05: Attach makes the network namespace (join "" asks for
		// a new one), records its path in NetworkSettings.SandboxKey,
		// which the container then joins by path, and gives the files
		// /etc/hosts, /etc/hostname and /etc/resolv.conf.
		extra, err := e.opts.Networks.Attach(c, join)
		if err != nil {
			return err
		}
		spec.Mounts = append(spec.Mounts, extra...)
		if err := e.saveConfig(c); err != nil {
			return err
		}
	} else if join != "" {
		c.NetworkSettings.SandboxKey = join
	}
	if key := c.NetworkSettings.SandboxKey; key != "" && mode != "host" {
		linux.Namespaces = slices.Clone(linux.Namespaces)
		for i := range linux.Namespaces {
			if linux.Namespaces[i].Type == specs.NetworkNamespace {
				linux.Namespaces[i].Path = key
			}
		}
	}
	linux.CgroupsPath = CgroupPath(c.ID)
	rt, err := e.loadRuntime(c.ID)
	if err != nil {
		return err
	}
	if err := e.addInit(&spec, rt); err != nil {
		return err
	}
	if err := os.MkdirAll(e.bundleDir(c.ID), 0o700); err != nil {
		return fmt.Errorf("make the bundle: %w", err)
	}
	return writeJSON(filepath.Join(e.bundleDir(c.ID), "config.json"), &spec)
}

// startMonitor starts the monitor, detached: in a session of its own
// (setsid), with /dev/null for stdio, so that neither the CLI's end nor its
// terminal's hang-up touches it. It inherits three descriptors: the reply
// pipe (3), the container's lock (4; the same open file, so the same flock:
// the monitor holds it until the container runs) and the first attach
// client (5, optional).
func (e *Engine) startMonitor(id string, l *lock, attach *os.File) error {
	if err := os.MkdirAll(e.execDir(id), 0o700); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return fmt.Errorf("start: %w", err)
	}
	defer devnull.Close()
	withAttach := "0"
	if attach != nil {
		withAttach = "1"
	}
	cmd := exec.Command(e.opts.Self, MonitorArg, e.opts.DataRoot, e.opts.ExecRoot, id, withAttach)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{w, l.f}
	if attach != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, attach)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start the monitor: %w", err)
	}
	// The monitor's parent is this CLI until we exit; then init adopts it.
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	e.mu.Lock()
	e.monitors = append(e.monitors, done)
	e.mu.Unlock()
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("start: read the monitor's reply: %w", err)
	}
	var rep monitorReply
	if len(data) == 0 || json.Unmarshal(data, &rep) != nil {
		return errors.New("start: the container's monitor died before it said whether the container started")
	}
	if rep.Error != "" {
		return &StartError{Code: rep.Code, Message: rep.Error}
	}
	return nil
}

// WaitMonitors waits (up to timeout) for the monitors this process started
// to exit: `run` returns only when its container's monitor has finished.
func (e *Engine) WaitMonitors(timeout time.Duration) {
	e.mu.Lock()
	list := e.monitors
	e.mu.Unlock()
	deadline := time.After(timeout)
	for _, done := range list {
		select {
		case <-done:
		case <-deadline:
			return
		}
	}
}
