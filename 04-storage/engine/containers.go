package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/02-cgroups/cgroups"
)

// CreateRequest is what `create` and `run` ask for. Config.Image names the
// image; Spec builds the OCI spec once the image and the container's root
// are known (the lesson 01-03 flags need the root: users are looked up in
// its /etc/passwd), and sets c.Path and c.Args.
type CreateRequest struct {
	Name       string
	Config     Config
	HostConfig HostConfig
	Spec       func(c *Container, img *Image, root string) (*specs.Spec, error)
	// Networks are the endpoint settings asked for (lesson 05's --ip and
	// --network-alias), by network name: Docker's NetworkingConfig.
	Networks map[string]*EndpointSettings
}

// Info is a container with its state, as `inspect` and `ps` see it.
type Info struct {
	*Container
	State State
}

// CgroupPath is where the container's cgroup lives in every hierarchy: an
// absolute path under minibox's prefix (a relative one would land inside
// the caller's cgroup).
func CgroupPath(id string) string { return cgroups.Prefix + "/" + id }

// Create makes a container: its ID and name, its read-write layer and
// mounts, its spec and config. Bad input leaves nothing behind, and so does
// a creator killed halfway: the container is built in .creating-ID, under
// its lock, and renamed to ID when it is whole (see crash.go); the next
// command sweeps what a dead creator left.
func (e *Engine) Create(req CreateRequest) (_ *Container, err error) {
	if req.Name != "" && !validName.MatchString(req.Name) {
		return nil, fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", req.Name)
	}
	if err := validateHostRestart(req.HostConfig); err != nil {
		return nil, err
	}
	img, err := e.opts.Images.Resolve(req.Config.Image)
	if err != nil {
		return nil, err
	}
	rt, err := e.ResolveRuntime(req.HostConfig.Runtime)
	if err != nil {
		return nil, err
	}
	id := newID()
	c := &Container{
		ID: id, Name: req.Name, Created: time.Now().UTC(), Image: img.ID.String(),
		Config: req.Config, HostConfig: req.HostConfig,
	}
	c.HostConfig.Runtime = rt.Name
	if err := e.healthcheckFor(c, img); err != nil {
		return nil, err
	}
	// The image's EXPOSE'd ports are the container's, as in Docker (-P
	// publishes them).
	for p := range img.Config.Config.ExposedPorts {
		if c.Config.ExposedPorts == nil {
			c.Config.ExposedPorts = map[string]struct{}{}
		}
		c.Config.ExposedPorts[p] = struct{}{}
	}
	if len(req.Networks) > 0 {
		c.NetworkSettings.Networks = req.Networks
	}
	l, err := e.beginCreate(id)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	dir := e.creatingDir(id)
	named, stored := false, false
	defer func() {
		if err == nil {
			return
		}
		err = storageErr(e.opts.DataRoot, err)
		if stored && e.opts.Storage.Remove(c, true) != nil {
			// Left for a sweep, which retries from the config (ours is
			// the lock it finds free once we return).
			return
		}
		if named {
			e.releaseName(c.Name, id)
		}
		os.RemoveAll(e.execDir(id))
		os.RemoveAll(dir)
	}()
	// The config is written ahead, before the storage makes anything: a
	// sweep learns from it what to undo.
	if err := writeJSON(filepath.Join(dir, "runtime.json"), rt); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, "state.json"), State{Status: "created"}); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), c); err != nil {
		return nil, err
	}
	if c.Name != "" {
		if err := e.reserveName(c.Name, id); err != nil {
			return nil, err
		}
	} else {
		for i := 0; ; i++ {
			c.Name = randomName(i)
			err := e.reserveName(c.Name, id)
			if err == nil {
				break
			}
			var ce *ConflictError
			if !errors.As(err, &ce) || i == 10 {
				return nil, err
			}
		}
		if err := writeJSON(filepath.Join(dir, "config.json"), c); err != nil {
			named = true
			return nil, err
		}
	}
	named = true
	if err := e.opts.Storage.Create(c, img); err != nil {
		return nil, err
	}
	stored = true
	root, _, err := e.opts.Storage.Mount(c)
	if err == nil {
		c.Spec, err = req.Spec(c, img, root)
		if uerr := e.opts.Storage.Unmount(c); err == nil {
			err = uerr
		}
	}
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, "spec.json"), c.Spec); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), c); err != nil {
		return nil, err
	}
	// Whole: visible at once. The lock file moves with the directory, so
	// we hold the container's lock until we return.
	if err := os.Rename(dir, e.dataDir(id)); err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	return c, nil
}

// Inspect returns the container with its state as it truly is: a state file
// that says running is checked against the recorded PIDs and start times.
func (e *Engine) Inspect(ref string) (*Info, error) {
	id, err := e.Lookup(ref)
	if err != nil {
		return nil, err
	}
	return e.info(id)
}

func (e *Engine) info(id string) (*Info, error) {
	c, err := e.load(id)
	if err != nil {
		return nil, err
	}
	st, err := e.loadState(id)
	if err != nil {
		return nil, err
	}
	seen := observe(st)
	if st.Running && !seen.Running {
		// Both processes gone, but the state was read before we looked:
		// the monitor may have recorded the exit and ended in between.
		// Now that it is gone, the file is final: read it once more.
		if st, err = e.loadState(id); err != nil {
			return nil, err
		}
		seen = observe(st)
	}
	seen = e.observeStarting(id, seen)
	e.addHealth(id, &seen)
	return &Info{Container: c, State: seen}, nil
}

// observe corrects a recorded state by what the kernel says. A running
// container whose init is gone is still running while its monitor lives
// (the monitor is about to record the exit); with both gone the exit code
// is lost, and Docker reports 255 for that.
func observe(st State) State {
	if st.Restarting && !alive(st.MonitorPid, st.MonitorStart) {
		// Its monitor died during the restart's delay: nobody restarts it.
		st.Status, st.Restarting = "exited", false
		return st
	}
	if !st.Running {
		return st
	}
	if alive(st.Pid, st.PidStart) || alive(st.MonitorPid, st.MonitorStart) {
		return st
	}
	st.Status, st.Running, st.Restarting = "exited", false, false
	st.ExitCode, st.Pid = 255, 0
	if st.FinishedAt.IsZero() {
		st.FinishedAt = time.Now().UTC()
	}
	return st
}

// observeStarting corrects a state that a monitor recorded between the
// runtime's create and start: "created" with the init's PID. While the
// monitor lives it is starting the container; when it died there, only the
// runtime knows whether its start went through.
func (e *Engine) observeStarting(id string, st State) State {
	if st.Status != "created" || st.Pid == 0 || alive(st.MonitorPid, st.MonitorStart) {
		return st
	}
	if !alive(st.Pid, st.PidStart) {
		st.Pid = 0
		return st
	}
	rt, err := e.loadRuntime(id)
	if err != nil {
		return st
	}
	if rs, err := e.runtimeFor(id, rt).state(id); err == nil && rs.Status == "running" {
		st.Status, st.Running = "running", true
	}
	return st
}

// List returns the containers, newest first.
func (e *Engine) List() ([]*Info, error) {
	ids, err := e.IDs()
	if err != nil {
		return nil, err
	}
	var out []*Info
	for _, id := range ids {
		in, err := e.info(id)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// RunningError is Docker's refusal to remove a running (or restarting)
// container.
type RunningError struct{ Name, State string }

func (r *RunningError) Error() string {
	state := r.State
	if state == "" {
		state = "running"
	}
	return fmt.Sprintf("cannot remove container \"/%s\": container is %s: stop the container before attempting removal or force remove", r.Name, state)
}

// Remove deletes a container: with force a running one is killed first;
// with volumes its anonymous volumes go too. It works when the monitor is
// dead: the engine itself deletes the runtime's container, unmounts the
// root and removes the cgroup.
func (e *Engine) Remove(ref string, force, volumes bool) error {
	id, err := e.Lookup(ref)
	if err != nil {
		return err
	}
	l, err := e.lock(id)
	if err != nil {
		return err
	}
	// The state is read again after every wait without the lock: another
	// CLI may have started the container meanwhile.
	for attempt := 0; ; attempt++ {
		in, err := e.info(id)
		if err != nil {
			l.unlock()
			return err
		}
		if in.State.Running && !force {
			l.unlock()
			return &RunningError{Name: in.Name}
		}
		if in.State.Restarting {
			if !force {
				l.unlock()
				return &RunningError{Name: in.Name, State: "restarting"}
			}
			// No restart after the delay: the monitor ends itself.
			l.unlock()
			if err := e.stopRestarting(in, false); err != nil {
				return err
			}
			if l, err = e.lock(id); err != nil {
				return err
			}
		}
		if !in.State.Running && !alive(in.State.MonitorPid, in.State.MonitorStart) {
			defer l.unlock()
			e.waitInitGone(id)
			return e.destroy(in.Container, volumes)
		}
		if attempt == 5 {
			l.unlock()
			return fmt.Errorf("cannot remove container %s: it was started again while it was being removed", in.Name)
		}
		// The monitor needs the lock to record the exit: let it have it.
		l.unlock()
		if err := e.cancelRestart(id); err != nil {
			return err
		}
		e.killAndWait(in)
		if l, err = e.lock(id); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil // the monitor removed it (--rm)
			}
			return err
		}
	}
}

// waitInitGone waits for the last recorded init to leave the process table
// (observe hides the PID of a dead one; the state file keeps it).
func (e *Engine) waitInitGone(id string) {
	// A live init (one left created by a monitor killed before the start)
	// will not go by itself: the teardown kills it.
	if raw, err := e.loadState(id); err == nil && !alive(raw.Pid, raw.PidStart) {
		waitGone(raw.Pid, raw.PidStart, 10*time.Second)
	}
}

// killAndWait kills the container's init and waits for the monitor to
// finish; a monitor that does not, and only one whose PID and start time
// match, is killed.
func (e *Engine) killAndWait(in *Info) {
	st := in.State
	if alive(st.Pid, st.PidStart) {
		if rt, err := e.loadRuntime(in.ID); err == nil {
			e.runtimeFor(in.ID, rt).kill(in.ID, "KILL")
		}
		signalIf(st.Pid, st.PidStart, unix.SIGKILL) // when the runtime lost it
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && (alive(st.Pid, st.PidStart) || alive(st.MonitorPid, st.MonitorStart)) {
		time.Sleep(20 * time.Millisecond)
	}
	if signalIf(st.MonitorPid, st.MonitorStart, unix.SIGKILL) {
		for alive(st.MonitorPid, st.MonitorStart) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// teardown undoes a start: the runtime's container, the cgroup, the root's
// mount, the network. Each step is harmless when there is nothing to undo.
func (e *Engine) teardown(c *Container) error {
	var errs []error
	if err := e.waitRuntimeIdle(c.ID); err != nil {
		errs = append(errs, err)
	}
	if rt, err := e.loadRuntime(c.ID); err == nil {
		r := e.runtimeFor(c.ID, rt)
		if _, err := r.state(c.ID); err == nil {
			// The monitor may delete it at the same moment (its container
			// has just died): gone afterwards is what we wanted.
			if err := r.delete(c.ID, true); err != nil {
				if _, still := r.state(c.ID); still == nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if mgr, err := cgroups.New(cgroups.DefaultRoot, CgroupPath(c.ID)); err == nil {
		for _, d := range mgr.Dirs() {
			if _, err := os.Stat(d); err == nil {
				if err := mgr.Destroy(); err != nil {
					errs = append(errs, fmt.Errorf("remove the cgroup: %w", err))
				}
				break
			}
		}
	}
	// runc deletes the container's cgroup but not the /minibox level it
	// made above it; ours removes it when it is empty, and so do we here.
	if err := cgroups.RemoveEmptyParents(cgroups.DefaultRoot, CgroupPath(c.ID)); err != nil {
		errs = append(errs, err)
	}
	if e.opts.Networks != nil {
		if err := e.opts.Networks.Detach(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := e.opts.Storage.Unmount(c); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// destroy removes everything of a stopped container; the caller holds its
// lock. The data directory goes last but one (renamed away first, so that
// a half-removed container is never listed), the name last.
func (e *Engine) destroy(c *Container, volumes bool) error {
	// Written ahead: a container whose removal stops halfway (its remover
	// killed, a failed unmount) is Dead, as in Docker, and cannot start; rm
	// removes it.
	if st, err := e.loadState(c.ID); err == nil && !st.Dead {
		st.Status, st.Dead, st.Running, st.Restarting = "dead", true, false, false
		if err := e.saveState(c.ID, st); err != nil {
			return storageErr(e.opts.DataRoot, fmt.Errorf("remove container %s: %w", short(c.ID), err))
		}
	}
	if err := e.teardown(c); err != nil {
		return fmt.Errorf("remove container %s: %w", short(c.ID), err)
	}
	if err := e.opts.Storage.Remove(c, volumes); err != nil {
		return fmt.Errorf("remove container %s: %w", short(c.ID), err)
	}
	os.Remove(e.attachSocket(c.ID))
	os.Remove(e.consoleSocket(c.ID))
	if err := os.RemoveAll(e.execDir(c.ID)); err != nil {
		return fmt.Errorf("remove container %s: %w", short(c.ID), err)
	}
	// The lock file moves with the directory: we still hold it, and a
	// sweep leaves the trash to us (crash.go).
	trash := e.removingDir(c.ID)
	if err := os.Rename(e.dataDir(c.ID), trash); err != nil {
		return fmt.Errorf("remove container %s: %w", short(c.ID), err)
	}
	if err := removeTrash(trash); err != nil {
		return fmt.Errorf("remove container %s: %w", short(c.ID), err)
	}
	return e.releaseName(c.Name, c.ID)
}

// Rename gives a container a new name.
func (e *Engine) Rename(ref, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return e.withLock(ref, func(id string, _ *lock) error {
		c, err := e.load(id)
		if err != nil {
			return err
		}
		if c.Name == name {
			return fmt.Errorf("Renaming a container with the same name as its current name")
		}
		if err := e.reserveName(name, id); err != nil {
			return err
		}
		old := c.Name
		c.Name = name
		if err := e.saveConfig(c); err != nil {
			e.releaseName(name, id)
			return err
		}
		return e.releaseName(old, id)
	})
}

// Prune removes every container that is not running and returns their IDs.
func (e *Engine) Prune() ([]string, error) {
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	var gone []string
	var errs []error
	for _, in := range list {
		if in.State.Running || in.State.Restarting {
			continue
		}
		err := e.Remove(in.ID, false, false)
		var re *RunningError
		switch {
		case err == nil:
			gone = append(gone, in.ID)
		case errors.Is(err, ErrNotFound), errors.As(err, &re):
		default:
			errs = append(errs, err)
		}
	}
	return gone, errors.Join(errs...)
}

// Update runs fn on a container under its lock and saves the config fn
// changed (lesson 05's `network connect` and `disconnect` of a live
// container). running says whether the container runs now.
func (e *Engine) Update(ref string, fn func(c *Container, running bool) error) error {
	return e.withContainer(ref, func(in *Info, _ *lock) error {
		if err := fn(in.Container, in.State.Running); err != nil {
			return err
		}
		return e.saveConfig(in.Container)
	})
}
