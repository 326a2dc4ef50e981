package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"minibox/01-namespaces/namespaces"
)

// terminal is where the container's standard streams go, as -i and -t say.
//
// Without -t the container writes straight into our stdout and stderr, and
// reads our stdin with -i or /dev/null without it, like `docker run`.
//
// With -t it gets a pseudo-terminal (pty(7)): a pair of devices where what
// is written into the master comes out of the slave as typed keys, and what
// the program writes to the slave comes out of the master. The container
// gets the slave as stdin, stdout and stderr (and as its controlling
// terminal: controllingTerminal). We sit on the master and copy between it
// and our own terminal, which we put into raw mode so that every key, Ctrl-C
// included, goes to the container's terminal, whose line discipline then
// does the echoing, line editing and signals. Window size changes
// (SIGWINCH) are passed on with TIOCSWINSZ.
type terminal struct {
	tty, interactive bool
	master, slave    *os.File
}

// newTerminal checks the flags against our stdin and opens the pty pair.
func newTerminal(tty, interactive bool) (*terminal, error) {
	t := &terminal{tty: tty, interactive: interactive}
	if !tty {
		return t, nil
	}
	if interactive && !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, errors.New("the input device is not a TTY: -it needs a terminal on stdin; to pipe input, use -i without -t")
	}
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	t.master, t.slave = master, slave
	return t, nil
}

// Stdio is what the container's stdin, stdout and stderr are.
func (t *terminal) Stdio() namespaces.Stdio {
	if t.slave != nil {
		return namespaces.Stdio{Stdin: t.slave, Stdout: t.slave, Stderr: t.slave}
	}
	s := namespaces.Stdio{Stdout: os.Stdout, Stderr: os.Stderr} // nil stdin: /dev/null
	if t.interactive {
		s.Stdin = os.Stdin
	}
	return s
}

// Start begins copying between our terminal and the container's. The
// returned stop, called after the container ended, copies what output is
// left, closes the pty and gives our terminal back its old mode.
func (t *terminal) Start() (stop func(), err error) {
	if t.master == nil {
		return func() {}, nil
	}
	in := int(os.Stdin.Fd())
	restore := func() {}
	winch := make(chan os.Signal, 1)
	if term.IsTerminal(in) {
		_ = pty.InheritSize(os.Stdin, t.master)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			for range winch {
				_ = pty.InheritSize(os.Stdin, t.master)
			}
		}()
		if t.interactive {
			state, err := term.MakeRaw(in)
			if err != nil {
				signal.Stop(winch)
				return nil, fmt.Errorf("put the terminal into raw mode: %w", err)
			}
			restore = func() { _ = term.Restore(in, state) }
		}
	}
	if t.interactive {
		go func() { _, _ = io.Copy(t.master, os.Stdin) }()
	}
	done := make(chan struct{})
	go func() {
		// Ends with EIO once no one holds the slave any more.
		_, _ = io.Copy(os.Stdout, t.master)
		close(done)
	}()
	return func() {
		// The container's copies of the slave died with it; ours is
		// the last one.
		if t.slave != nil {
			t.slave.Close()
		}
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		t.master.Close()
		signal.Stop(winch)
		close(winch)
		restore()
	}, nil
}

// attachConsole connects our terminal to the pty master of a bundle's
// container (runc's `run` with process.terminal): raw mode, both
// directions, window size.
func attachConsole(master *os.File) (stop func(), err error) {
	t := &terminal{tty: true, interactive: true, master: master}
	return t.Start()
}

// Close releases the pty when the container never started.
func (t *terminal) Close() {
	if t.master != nil {
		t.master.Close()
		t.slave.Close()
	}
}

// controllingTerminal is a namespaces.Step for -t: it makes the init the
// leader of a new session whose controlling terminal is the pty slave on
// its stdin. Only then does the slave's line discipline turn Ctrl-C into
// SIGINT and a window change into SIGWINCH for the program in front, and
// job control works. The init is no process group leader (its group is the
// runtime's), so setsid(2) succeeds; TIOCSCTTY (see ioctl_tty(2)) needs
// no privilege for a terminal that is nobody's controlling terminal yet.
func controllingTerminal(spec *specs.Spec) error {
	if spec.Process == nil || !spec.Process.Terminal {
		return nil
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("terminal: setsid: %w", err)
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("terminal: make stdin the controlling terminal (TIOCSCTTY): %w", err)
	}
	return nil
}

// namespacesStdio sends a container's stdout and stderr to w, stdin from /dev/null.
func namespacesStdio(w *os.File) namespaces.Stdio {
	return namespaces.Stdio{Stdout: w, Stderr: w}
}

// unixAccessW asks the kernel whether we may write path, without writing.
func unixAccessW(path string) error {
	if err := unix.Access(path, unix.W_OK); err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	return nil
}
