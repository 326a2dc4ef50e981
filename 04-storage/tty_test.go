package main

import (
	"bufio"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// onTerminal runs minibox with a pty as its stdin, stdout and stderr, as a
// user's terminal; the test types into the master and reads the screen.
type onTerminal struct {
	t      *testing.T
	master *os.File
	done   chan int
	screen chan string
}

func (b *box) onTerminal(args ...string) *onTerminal {
	b.t.Helper()
	cmd := b.command(args...)
	master, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	require.NoError(b.t, err)
	tt := &onTerminal{t: b.t, master: master, done: make(chan int, 1), screen: make(chan string, 100)}
	go func() {
		r := bufio.NewReader(master)
		for {
			s, err := r.ReadString('\n')
			if s != "" {
				tt.screen <- s
			}
			if err != nil {
				close(tt.screen)
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		tt.done <- cmd.ProcessState.ExitCode()
	}()
	b.t.Cleanup(func() { master.Close(); cmd.Process.Kill() })
	return tt
}

func (tt *onTerminal) typeIn(s string) {
	_, err := io.WriteString(tt.master, s)
	require.NoError(tt.t, err)
}

// expect reads the screen until a line holds want.
func (tt *onTerminal) expect(want string) {
	tt.t.Helper()
	timeout := time.After(30 * time.Second)
	var seen []string
	for {
		select {
		case s, ok := <-tt.screen:
			if !ok {
				tt.t.Fatalf("the terminal closed before %q; saw %q", want, seen)
			}
			if strings.Contains(s, want) {
				return
			}
			seen = append(seen, s)
		case <-timeout:
			tt.t.Fatalf("no %q on the terminal; saw %q", want, seen)
		}
	}
}

func (tt *onTerminal) exit() int {
	tt.t.Helper()
	select {
	case code := <-tt.done:
		return code
	case <-time.After(30 * time.Second):
		tt.t.Fatal("minibox did not exit")
		return -1
	}
}

func TestRunInteractiveTerminal(t *testing.T) {
	b := newBox(t)
	word := random("w")
	tt := b.onTerminal("run", "-it", "--rm", "busybox", "sh")
	tt.typeIn("tty; stty size; echo " + word + "-$((6*7))\n")
	tt.expect("/dev/pts/0")
	tt.expect("30 100")
	tt.expect(word + "-42")
	// Ctrl-C goes to the container's terminal (the shell survives it).
	tt.typeIn("sleep 100\n")
	time.Sleep(300 * time.Millisecond)
	tt.typeIn("\x03")
	tt.typeIn("echo after-$((1+1))\n")
	tt.expect("after-2")
	tt.typeIn("exit 7\n")
	assert.Equal(t, 7, tt.exit())
	assert.Empty(t, b.ok("ps", "-aq"))
}

func TestDetachKeysAndAttach(t *testing.T) {
	b := newBox(t)
	name := random("d-")
	tt := b.onTerminal("run", "-it", "--name", name, "busybox", "sh")
	tt.typeIn("echo ready-$((2+3))\n")
	tt.expect("ready-5")
	tt.typeIn("\x10\x11") // Ctrl-P Ctrl-Q
	assert.Equal(t, 0, tt.exit())
	assert.Equal(t, "running", b.ok("inspect", "-f", "{{.State.Status}}", name))
	// attach finds the same shell.
	at := b.onTerminal("attach", name)
	at.typeIn("echo again-$((3+4)); exit 3\n")
	at.expect("again-7")
	assert.Equal(t, 3, at.exit())
	assert.Equal(t, "3", b.ok("wait", name))
	b.ok("rm", name)
}

func TestExec(t *testing.T) {
	b := newBox(t)
	for _, rt := range []string{"minibox", "runc"} {
		t.Run(rt, func(t *testing.T) {
			id := b.ok("run", "-d", "--runtime", rt, "-e", "BASE=1", "busybox", "sleep", "1000")
			word := random("x")
			r := b.runIn(word, "exec", "-i", "-u", "nobody", "-w", "/tmp", "-e", "MORE=2", id, "sh", "-c", `cat; echo " $(id -u) $(pwd) $BASE$MORE"; exit 9`)
			assert.Equal(t, 9, r.Code, r.Stderr)
			assert.Equal(t, word+" 65534 /tmp 12\n", r.Stdout)
			r = b.run("exec", id, "no-such-"+word)
			assert.Equal(t, 127, r.Code)
			assert.Contains(t, r.Stderr, "executable file not found")
			b.ok("exec", "-d", id, "sleep", "77")
			waitFor(t, "the detached exec", func() bool { return strings.Contains(b.ok("top", id), "sleep 77") })
			tt := b.onTerminal("exec", "-it", id, "sh")
			tt.typeIn("tty; exit 4\n")
			tt.expect("/dev/pts/")
			assert.Equal(t, 4, tt.exit())
			b.ok("stop", "-t", "0", id)
			r = b.run("exec", id, "true")
			assert.Equal(t, 1, r.Code)
			assert.Contains(t, r.Stderr, "is not running")
			b.ok("rm", id)
		})
	}
}
