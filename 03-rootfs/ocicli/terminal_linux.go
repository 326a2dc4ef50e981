package ocicli

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

	"minibox/01-namespaces/initproto"
	"minibox/01-namespaces/namespaces"
	"minibox/03-rootfs/oci"
)

// Terminal is where the container's standard streams go, as -i and -t say.
//
// Without -t the container writes straight into our stdout and stderr, and
// reads our stdin with -i or /dev/null without it, like `docker run`.
//
// With -t it gets a pseudo-terminal (pty(7)): a pair of devices where what
// is written into the master comes out of the slave as typed keys, and what
// the program writes to the slave comes out of the master. The init opens
// the pair from the container's own /dev/ptmx, keeps the slave as stdin,
// stdout, stderr and controlling terminal, and sends us the master over a
// socket (oci.Console: the OCI runtime's console socket, here a socket
// pair). We copy between the master and our own terminal, which we put into
// raw mode so that every key, Ctrl-C included, goes to the container's
// terminal, whose line discipline then does the echoing, line editing and
// signals. Window size changes (SIGWINCH) are passed on with TIOCSWINSZ.
type Terminal struct {
	tty, interactive bool
	ours, theirs     *os.File // the console socket pair (-t)
	master           *os.File // the pty master, once the init sent it
	stop             func()
}

// NewTerminal checks the flags against our stdin and makes the socket pair.
func NewTerminal(tty, interactive bool) (*Terminal, error) {
	t := &Terminal{tty: tty, interactive: interactive}
	if !tty {
		return t, nil
	}
	if interactive && !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, errors.New("the input device is not a TTY: -it needs a terminal on stdin; to pipe input, use -i without -t")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("make the console socket pair: %w", err)
	}
	t.ours, t.theirs = os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console")
	return t, nil
}

// Stdio is what the container's stdin, stdout and stderr are (with -t,
// until the init replaces them with the pty: an early error still shows).
func (t *Terminal) Stdio() namespaces.Stdio {
	s := namespaces.Stdio{Stdout: os.Stdout, Stderr: os.Stderr} // nil stdin: /dev/null
	if t.interactive && !t.tty {
		s.Stdin = os.Stdin
	}
	return s
}

// Hooks hand the init the console socket (with -t) and, once it is set
// up, take the pty master and start copying. The pty starts with our
// terminal's size.
func (t *Terminal) Hooks(spec *specs.Spec) initproto.Hooks {
	if !t.tty {
		return initproto.Hooks{}
	}
	if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
		spec.Process.ConsoleSize = &specs.Box{Height: uint(ws.Row), Width: uint(ws.Col)}
	}
	return initproto.Hooks{
		StartOptions: []initproto.StartOption{initproto.WithFiles(nil, t.theirs)},
		Released: func() error {
			master, err := oci.ReceiveConsole(t.ours)
			if err != nil {
				return err
			}
			t.master = master
			t.stop, err = t.copy()
			return err
		},
	}
}

// Close, after the container ended, copies what output is left, closes
// the pty and gives our terminal back its old mode.
func (t *Terminal) Close() {
	if t.stop != nil {
		t.stop()
	}
	for _, f := range []*os.File{t.ours, t.theirs} {
		if f != nil {
			f.Close()
		}
	}
}

// copy begins copying between our terminal and the container's. The
// returned stop ends it.
func (t *Terminal) copy() (stop func(), err error) {
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
		// The container's copies of the slave died with it: the copy
		// ends with EIO.
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

// AttachConsole connects our terminal to the pty master of a bundle's
// container (runc's `run` with process.terminal, `exec -t` without a
// console socket): raw mode, both directions, window size.
func AttachConsole(master *os.File) (stop func(), err error) {
	t := &Terminal{tty: true, interactive: true, master: master}
	return t.copy()
}
