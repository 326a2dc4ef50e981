package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ociRuntime drives an OCI runtime through its command line, as
// containerd's shim drives runc: `RUNTIME --root DIR --log FILE
// --log-format json COMMAND ...`. The runtime keeps its own state under
// root; its errors go to the log as JSON lines, which we read back for the
// message (its stderr is the container's).
type ociRuntime struct {
	rt   Runtime
	root string // the runtime's --root: EXEC/runtime/NAME
	log  string // the runtime's --log for this container
	self bool   // the runtime is this program (`minibox runtime`)
}

func (e *Engine) runtimeFor(id string, rt Runtime) *ociRuntime {
	return &ociRuntime{rt: rt, root: filepath.Join(e.opts.ExecRoot, "runtime", rt.Name), log: filepath.Join(e.execDir(id), "runtime.log"), self: rt.Path == e.opts.Self}
}

func (r *ociRuntime) command(args ...string) *exec.Cmd {
	all := append(append([]string{}, r.rt.Args...), "--root", r.root, "--log", r.log, "--log-format", "json")
	cmd := exec.Command(r.rt.Path, append(all, args...)...)
	if !r.self {
		cmd.Env = runtimeEnv()
	}
	return cmd
}

// runtimeEnv is our environment without what makes a test binary act as
// the program: another runtime is a program of its own (our own runtime,
// this program, keeps it).
func runtimeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIBOX_TEST_MAIN=") {
			env = append(env, kv)
		}
	}
	return env
}

// run runs a runtime command with quiet stdio and returns its error with
// the runtime's own message.
func (r *ociRuntime) run(args ...string) error {
	cmd := r.command(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return r.explain(args[0], cmd.Run(), out.String())
}

// explain turns a failed runtime command into an error that carries what
// the runtime said: the last error of its log, or its output.
func (r *ociRuntime) explain(what string, err error, output string) error {
	if err == nil {
		return nil
	}
	msg := r.lastLogError()
	if msg == "" {
		msg = strings.TrimSpace(output)
	}
	if msg == "" {
		msg = err.Error()
	}
	return fmt.Errorf("OCI runtime %s failed: %s", what, msg)
}

func (r *ociRuntime) lastLogError() string {
	f, err := os.Open(r.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && (l.Level == "error" || l.Level == "fatal") {
			last = l.Msg
		}
	}
	return last
}

func (r *ociRuntime) start(id string) error { return r.run("start", id) }

func (r *ociRuntime) kill(id, sig string) error { return r.run("kill", id, sig) }

func (r *ociRuntime) delete(id string, force bool) error {
	if force {
		return r.run("delete", "--force", id)
	}
	return r.run("delete", id)
}

// runtimeState is what `RUNTIME state ID` prints.
type runtimeState struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
}

func (r *ociRuntime) state(id string) (*runtimeState, error) {
	cmd := r.command("state", id)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, r.explain("state", err, errb.String())
	}
	var st runtimeState
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		return nil, fmt.Errorf("OCI runtime state: %w", err)
	}
	return &st, nil
}
