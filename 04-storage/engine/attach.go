package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The attach protocol between the monitor and a client (the CLI of `run`,
// `start -a`, `attach`) is a stream of frames with Docker's 8-byte stdcopy
// header: one byte of stream type, three zero bytes, and the payload's
// length as a big-endian uint32. Docker uses types 0-2 for stdin, stdout and
// stderr; we add a few of our own for the control messages.
const (
	frameStdin      = 0
	frameStdout     = 1
	frameStderr     = 2
	frameCloseStdin = 3 // the client's stdin ended
	frameResize     = 4 // "COLS ROWS": the client's terminal changed size
	frameExit       = 5 // the exit code, in decimal: the container ended
)

func writeFrame(w io.Writer, typ byte, p []byte) error {
	var h [8]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	if _, err := w.Write(append(h[:], p...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[4:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("attach: a frame of %d bytes is too big", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return h[0], p, nil
}

// hub is the monitor's side: output goes to the log and to every client;
// stdin comes from any client.
type hub struct {
	mu      sync.Mutex
	clients map[net.Conn]bool
	stdin   io.WriteCloser // nil without -i
	log     *logWriter
	resize  func(cols, rows uint16)
	exited  bool
}

func newHub(log *logWriter) *hub { return &hub{clients: map[net.Conn]bool{}, log: log} }

func (h *hub) output(typ byte, stream string, p []byte) {
	h.log.write(stream, p)
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := writeFrame(c, typ, p); err != nil {
			c.Close()
			delete(h.clients, c)
		}
	}
}

// copy reads one of the container's outputs until it closes.
func (h *hub) copy(typ byte, stream string, r io.Reader) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.output(typ, stream, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// serve adds a client and reads what it sends until it goes away.
func (h *hub) serve(c net.Conn) {
	h.mu.Lock()
	if h.exited {
		h.mu.Unlock()
		c.Close()
		return
	}
	h.clients[c] = true
	h.mu.Unlock()
	go func() {
		for {
			typ, p, err := readFrame(c)
			if err != nil {
				h.drop(c)
				return
			}
			switch typ {
			case frameStdin:
				if h.stdin != nil {
					h.stdin.Write(p)
				}
			case frameCloseStdin:
				if h.stdin != nil {
					h.stdin.Close()
				}
			case frameResize:
				var cols, rows uint16
				if _, err := fmt.Sscan(string(p), &cols, &rows); err == nil && h.resize != nil {
					h.resize(cols, rows)
				}
			}
		}
	}()
}

func (h *hub) drop(c net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.clients[c] {
		delete(h.clients, c)
		c.Close()
	}
}

// exit tells every client the exit code and lets them go.
func (h *hub) exit(code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.exited = true
	for c := range h.clients {
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		writeFrame(c, frameExit, []byte(strconv.Itoa(code)))
		c.Close()
		delete(h.clients, c)
	}
}

// AttachOptions say what a client relays.
type AttachOptions struct {
	Stdin          io.Reader // nil: none
	Stdout, Stderr io.Writer
	// DetachKeys, when not empty, end the relay (not the container) when
	// they arrive on Stdin in a row: Docker's Ctrl-P Ctrl-Q.
	DetachKeys []byte
	// Resize, when not nil, delivers the terminal's size changes.
	Resize <-chan [2]uint16
}

// ErrDetached is returned by Relay when the detach keys were typed.
var ErrDetached = errors.New("detached")

// ErrNoExitCode is returned by Relay when the stream ended without the
// monitor's word on the exit code (the monitor died, or the container was
// already gone).
var ErrNoExitCode = errors.New("the container's monitor went away without an exit code")

// Attach connects to a running container's monitor.
func (e *Engine) Attach(ref string) (net.Conn, error) {
	id, err := e.Lookup(ref)
	if err != nil {
		return nil, err
	}
	c, err := net.Dial("unix", e.attachSocket(id))
	if err != nil {
		return nil, fmt.Errorf("attach to %s: %w", short(id), err)
	}
	return c, nil
}

// Relay copies between conn (a monitor's attach stream) and the caller's
// streams until the container ends (its exit code), the detach keys are
// typed (ErrDetached) or the stream breaks (ErrNoExitCode).
func Relay(conn net.Conn, o AttachOptions) (int, error) {
	done := make(chan struct{})
	detached := make(chan struct{}, 1)
	var wmu sync.Mutex
	send := func(typ byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(conn, typ, p)
	}
	if o.Stdin != nil {
		go func() {
			buf := make([]byte, 32*1024)
			matched := 0
			for {
				n, err := o.Stdin.Read(buf)
				data := buf[:n]
				if len(o.DetachKeys) > 0 && n > 0 {
					out := make([]byte, 0, n)
					for _, b := range data {
						if b == o.DetachKeys[matched] {
							matched++
							if matched == len(o.DetachKeys) {
								if len(out) > 0 {
									send(frameStdin, out)
								}
								detached <- struct{}{}
								return
							}
							continue
						}
						out = append(out, o.DetachKeys[:matched]...)
						matched = 0
						out = append(out, b)
					}
					data = out
				}
				if len(data) > 0 {
					if send(frameStdin, data) != nil {
						return
					}
				}
				if err != nil {
					send(frameCloseStdin, nil)
					return
				}
			}
		}()
	}
	if o.Resize != nil {
		go func() {
			for {
				select {
				case sz := <-o.Resize:
					send(frameResize, []byte(fmt.Sprintf("%d %d", sz[0], sz[1])))
				case <-done:
					return
				}
			}
		}()
	}
	type result struct {
		code int
		err  error
	}
	res := make(chan result, 1)
	go func() {
		for {
			typ, p, err := readFrame(conn)
			if err != nil {
				res <- result{-1, ErrNoExitCode}
				return
			}
			switch typ {
			case frameStdout:
				o.Stdout.Write(p)
			case frameStderr:
				o.Stderr.Write(p)
			case frameExit:
				code, err := strconv.Atoi(strings.TrimSpace(string(p)))
				if err != nil {
					code = -1
				}
				res <- result{code, nil}
				return
			}
		}
	}()
	defer close(done)
	select {
	case r := <-res:
		conn.Close()
		return r.code, r.err
	case <-detached:
		conn.Close()
		return -1, ErrDetached
	}
}

// isSocket tells whether f is a socket (the monitor's optional first client).
func isSocket(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeSocket != 0
}
