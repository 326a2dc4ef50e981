// Package hooks runs the OCI hooks of a container's config: programs the
// caller of the runtime (Docker, containerd, Podman) asks it to run at fixed
// moments of the container's life, to do what the runtime itself does not
// know about. The classic one is networking: a createRuntime or prestart
// hook gets the new network namespace (from the state's pid) and plugs a
// veth into it before the user's program runs.
//
// Every hook gets the container's state as JSON on its standard input:
//
//	{"ociVersion":"1.2.0","id":"web","status":"created","pid":4242,"bundle":"/srv/web"}
//
// The runtime spec fixes where each kind runs:
//
//	prestart, createRuntime  runtime's namespaces, after the container's exist   (create)
//	createContainer          container's namespaces, before pivot_root            (create)
//	startContainer           container's namespaces, right before the program     (start)
//	poststart                runtime's namespaces, after the program started      (start)
//	poststop                 runtime's namespaces, after the container is gone    (delete)
//
// A failing hook of the first four kinds fails the operation; a failing
// poststart or poststop hook is only a warning.
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"minibox/01-namespaces/initproto"
)

// Run runs hooks one after the other, each with state on its stdin, and
// stops at the first that fails. kind names them in errors ("prestart").
func Run(kind string, hooks []specs.Hook, state *specs.State) error {
	if errs := runHooks(kind, hooks, state, true); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// RunAll runs every hook even when some fail, and returns one error per
// failure: for poststart and poststop, whose failures are only warnings
// and must not keep the hooks after them from running.
func RunAll(kind string, hooks []specs.Hook, state *specs.State) []error {
	return runHooks(kind, hooks, state, false)
}

// runHooks runs hooks in order, stopping at the first failure when
// stopEarly, and returns the failures.
func runHooks(kind string, hooks []specs.Hook, state *specs.State, stopEarly bool) []error {
	if len(hooks) == 0 {
		return nil
	}
	input, err := json.Marshal(state)
	if err != nil {
		return []error{fmt.Errorf("%s hook: encode the state: %w", kind, err)}
	}
	var errs []error
	for i, h := range hooks {
		if err := runOne(h, input); err != nil {
			errs = append(errs, fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err))
			if stopEarly {
				break
			}
		}
	}
	return errs
}

// runOne runs one hook: the program at h.Path (absolute, never looked up) with
// h.Args as its whole argv, argv[0] included, and h.Env as its whole
// environment. With h.Timeout it is killed after that many seconds.
func runOne(h specs.Hook, state []byte) error {
	if !filepath.IsAbs(h.Path) {
		return fmt.Errorf("the path must be absolute")
	}
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout must be positive, not %d", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // nil would mean "inherit ours"
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The hook runs in a process group of its own, and a timeout kills the
	// whole group: a hook may leave children behind. Their copies of the
	// output pipe would keep Wait waiting; WaitDelay stops waiting for
	// them a little after the hook itself is gone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // the hook succeeded; a child it left holds its output
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		var ee *exec.ExitError
		if msg := strings.TrimSpace(out.String()); msg != "" && errors.As(err, &ee) {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}

// InitState is, inside a container's init, the state the runtime sent it
// along with the spec (create does), with status set; an empty state when
// the runtime sent none.
func InitState(status specs.ContainerState) (*specs.State, error) {
	var st specs.State
	if _, err := initproto.Extra(&st); err != nil {
		return nil, err
	}
	st.Status = status
	return &st, nil
}
