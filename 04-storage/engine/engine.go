package engine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Default roots, as Docker's /var/lib/docker and /run/docker.
const (
	DefaultDataRoot = "/var/lib/minibox"
	DefaultExecRoot = "/run/minibox"
	// DefaultRuntime is minibox's own OCI runtime (lesson 03): this same
	// program's hidden `runtime` commands.
	DefaultRuntime = "minibox"
)

// Runtime is an OCI runtime's command line: Path and Args come before the
// runtime's own global flags and commands, e.g. {"/usr/sbin/runc", nil} or
// {"/proc/self/exe", ["runtime"]}.
type Runtime struct {
	Name string
	Path string
	Args []string
}

// Options configure an Engine. DataRoot keeps what survives a reboot
// (containers' configs and logs); ExecRoot what does not (bundles, sockets,
// the runtime's state).
type Options struct {
	DataRoot string
	ExecRoot string
	Storage  Storage
	Images   Images
	Networks Networks // nil: only "none" and "host"
	// Runtimes are the runtimes known by name besides "runc" and "crun"
	// (found in PATH); DefaultRuntime names the one a container gets
	// without --runtime.
	Runtimes       map[string]Runtime
	DefaultRuntime string
	// Self is this program (the monitor is Self re-executed).
	Self string
}

// Engine manages containers. Every method may run at the same time as any
// other in another process: state is guarded by file locks.
type Engine struct {
	opts Options

	mu       sync.Mutex
	monitors []chan struct{} // monitors this process started, closed when they exit
}

// New checks the options and makes the roots.
func New(o Options) (*Engine, error) {
	if o.DataRoot == "" {
		o.DataRoot = DefaultDataRoot
	}
	if o.ExecRoot == "" {
		o.ExecRoot = DefaultExecRoot
	}
	if o.DefaultRuntime == "" {
		o.DefaultRuntime = DefaultRuntime
	}
	if o.Storage == nil || o.Images == nil {
		return nil, errors.New("engine: Storage and Images are required")
	}
	if o.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("engine: find this program: %w", err)
		}
		o.Self = self
	}
	var err error
	if o.DataRoot, err = filepath.Abs(o.DataRoot); err != nil {
		return nil, err
	}
	if o.ExecRoot, err = filepath.Abs(o.ExecRoot); err != nil {
		return nil, err
	}
	for _, d := range []string{filepath.Join(o.DataRoot, "containers"), filepath.Join(o.DataRoot, "names"), filepath.Join(o.ExecRoot, "containers"), filepath.Join(o.ExecRoot, "sock")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("engine: make %s: %w", d, err)
		}
	}
	e := &Engine{opts: o}
	// What a killed CLI left is swept by the next command (not by a
	// monitor: it starts a container, and its CLI waits). A sweep that
	// cannot finish now (a read-only data root) is retried by the next one,
	// and the command itself reports what it cannot do.
	if !IsMonitor() {
		_ = e.Sweep()
	}
	return e, nil
}

// Options returns the engine's options (with the defaults filled in).
func (e *Engine) Options() Options { return e.opts }

// DataRoot is where containers' configs and logs live.
func (e *Engine) DataRoot() string { return e.opts.DataRoot }

// ExecRoot is where bundles and sockets live.
func (e *Engine) ExecRoot() string { return e.opts.ExecRoot }

func (e *Engine) dataDir(id string) string { return filepath.Join(e.opts.DataRoot, "containers", id) }
func (e *Engine) execDir(id string) string { return filepath.Join(e.opts.ExecRoot, "containers", id) }
func (e *Engine) bundleDir(id string) string {
	return filepath.Join(e.execDir(id), "bundle")
}

// LogPath is the container's json-file log.
func (e *Engine) LogPath(id string) string { return filepath.Join(e.dataDir(id), id+"-json.log") }

// Unix socket paths may hold at most 107 bytes (unix(7)): the sockets live
// under a short name, EXEC/sock/ID[:16].
func (e *Engine) attachSocket(id string) string {
	return filepath.Join(e.opts.ExecRoot, "sock", id[:16]+".attach")
}

func (e *Engine) consoleSocket(id string) string {
	return filepath.Join(e.opts.ExecRoot, "sock", id[:16]+".console")
}

// ResolveRuntime finds a runtime by name: one of Options.Runtimes, or runc
// and crun (and any other name) looked up in PATH.
func (e *Engine) ResolveRuntime(name string) (Runtime, error) {
	if name == "" {
		name = e.opts.DefaultRuntime
	}
	if rt, ok := e.opts.Runtimes[name]; ok {
		rt.Name = name
		return rt, nil
	}
	if name == DefaultRuntime {
		return Runtime{Name: name, Path: e.opts.Self, Args: []string{"runtime"}}, nil
	}
	if name == "runc" || name == "crun" {
		if p, err := exec.LookPath(name); err == nil {
			return Runtime{Name: name, Path: p}, nil
		}
	}
	return Runtime{}, fmt.Errorf("unknown or invalid runtime name: %s", name)
}
