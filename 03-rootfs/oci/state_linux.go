package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultRoot is the state directory when --root is not given (runc: /run/runc).
const DefaultRoot = "/run/minibox"

// State is what state.json holds: the OCI state plus what this runtime
// needs to find the container again.
type State struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	// InitStart is the init's start time (field 22 of /proc/PID/stat). A
	// PID is reused after its process died: a process with our PID but
	// another start time is not our container.
	InitStart uint64 `json:"initStart"`
	Cgroup    string `json:"cgroupsPath"`
}

// Store is the state directory of one --root.
type Store struct{ Root string }

// Dir is the container's own directory in the store.
func (s Store) Dir(id string) string { return filepath.Join(s.Root, id) }

func (s Store) fifo(id string) string { return filepath.Join(s.Dir(id), "exec.fifo") }

// Load reads a container's state and sets its status from the live system.
func (s Store) Load(id string) (*State, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(s.Dir(id), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		if _, derr := os.Stat(s.Dir(id)); derr == nil {
			return nil, fmt.Errorf("container %q was never fully created (%s has no state.json): remove it with delete --force", id, s.Dir(id))
		}
		return nil, fmt.Errorf("container %q does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read the state of %q: %w", id, err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("the state of %q (%s) is damaged: %w", id, s.Dir(id), err)
	}
	st.Status = s.status(&st)
	return &st, nil
}

// status says what the container is now. Nobody waits on a created
// container's init, so we look at it: gone (or a zombie, or a stranger with
// its PID) means stopped.
func (s Store) status(st *State) specs.ContainerState {
	if !st.alive() {
		return specs.StateStopped
	}
	if st.Status == specs.StateCreating {
		return specs.StateCreating
	}
	if _, err := os.Lstat(s.fifo(st.ID)); err == nil {
		return specs.StateCreated
	}
	return specs.StateRunning
}

// alive reports whether the init still runs.
func (st *State) alive() bool {
	if st.Pid <= 0 {
		return false
	}
	start, zombie, err := procStart(st.Pid)
	return err == nil && !zombie && start == st.InitStart
}

// Save writes the state atomically: a reader sees the old or the new file.
func (s Store) Save(st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir(st.ID), ".state.json.tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write the state of %q: %w", st.ID, err)
	}
	if err := os.Rename(tmp, filepath.Join(s.Dir(st.ID), "state.json")); err != nil {
		return fmt.Errorf("write the state of %q: %w", st.ID, err)
	}
	return nil
}

// List returns the state of every container in the store, sorted by ID.
func (s Store) List() ([]*State, error) {
	entries, err := os.ReadDir(s.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.Root, err)
	}
	var out []*State
	for _, e := range entries {
		if !e.IsDir() || CheckID(e.Name()) != nil {
			continue
		}
		st, err := s.Load(e.Name())
		if err != nil {
			continue // half-created or being deleted right now
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// procStart reads a process's start time and whether it is a zombie from
// /proc/PID/stat. The command name (field 2) may hold spaces and ')', so
// the fields are counted from the last ')'.
func procStart(pid int) (start uint64, zombie bool, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state), f[19] field 22
	if len(f) < 20 {
		return 0, false, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return start, f[0] == "Z" || f[0] == "X", err
}

// waitGone waits until the init is gone (or a zombie), up to timeout.
func (st *State) waitGone(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for st.alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// signal sends sig to the init, unless its PID now belongs to a stranger.
func (st *State) signal(sig unix.Signal) error {
	if !st.alive() {
		return fmt.Errorf("container %q is not running", st.ID)
	}
	if err := unix.Kill(st.Pid, sig); err != nil {
		return fmt.Errorf("signal %s to container %q (PID %d): %w", unix.SignalName(sig), st.ID, st.Pid, err)
	}
	return nil
}
