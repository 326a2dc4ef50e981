package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// LogEntry is one line of Docker's json-file log driver:
// {"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// logWriter appends a container's output to its json-file log, one entry
// per line of output (a line without its newline waits for the rest, up to
// 16 KiB, as Docker's partial messages).
type logWriter struct {
	mu      sync.Mutex
	f       *os.File
	partial map[string][]byte
}

func openLog(path string) (*logWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open the log: %w", err)
	}
	return &logWriter{f: f, partial: map[string][]byte{}}, nil
}

func (w *logWriter) write(stream string, p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	buf := append(w.partial[stream], p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		w.entry(stream, buf[:i+1])
		buf = buf[i+1:]
	}
	if len(buf) >= 16*1024 {
		w.entry(stream, buf)
		buf = nil
	}
	w.partial[stream] = append([]byte(nil), buf...)
}

func (w *logWriter) entry(stream string, line []byte) {
	data, _ := json.Marshal(LogEntry{Log: string(line), Stream: stream, Time: time.Now().UTC()}) // strings and a time: cannot fail
	w.f.Write(append(data, '\n'))
}

// close writes what is left of unfinished lines.
// flush writes the unfinished lines (output that did not end in a
// newline). The monitor calls it once the container's output has ended and
// before it records the exit, so that `logs` after `wait` sees everything.
func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for stream, buf := range w.partial {
		if len(buf) > 0 {
			w.entry(stream, buf)
		}
	}
	w.partial = map[string][]byte{}
}

func (w *logWriter) close() {
	w.flush()
	w.f.Close()
}

// LogOptions are `logs`'s flags.
type LogOptions struct {
	Follow     bool
	Tail       int // < 0: all
	Since      time.Time
	Until      time.Time
	Timestamps bool
}

// Logs copies the container's log to stdout and stderr. With Follow it
// keeps reading until the container is no longer running.
func (e *Engine) Logs(ref string, o LogOptions, stdout, stderr io.Writer) error {
	id, err := e.Lookup(ref)
	if err != nil {
		return err
	}
	f, err := os.Open(e.LogPath(id))
	if os.IsNotExist(err) {
		if !o.Follow {
			return nil
		}
		// not started yet: wait for the file.
		for err != nil && os.IsNotExist(err) {
			if c, cerr := e.Inspect(id); cerr != nil || !c.State.Running && c.State.Status != "created" {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
			f, err = os.Open(e.LogPath(id))
		}
	}
	if err != nil {
		return fmt.Errorf("read the log: %w", err)
	}
	defer f.Close()
	emit := func(en LogEntry) {
		if !o.Since.IsZero() && en.Time.Before(o.Since) {
			return
		}
		if !o.Until.IsZero() && en.Time.After(o.Until) {
			return
		}
		w := stdout
		if en.Stream == "stderr" {
			w = stderr
		}
		if o.Timestamps {
			fmt.Fprintf(w, "%s %s", en.Time.Format(time.RFC3339Nano), en.Log)
		} else {
			io.WriteString(w, en.Log)
		}
	}
	r := bufio.NewReader(f)
	// The existing lines first (the last Tail of them).
	var lines []LogEntry
	var pending []byte
	readAll := func(keep bool) {
		for {
			chunk, err := r.ReadBytes('\n')
			pending = append(pending, chunk...)
			if err != nil {
				return // EOF: an incomplete line stays pending
			}
			var en LogEntry
			if json.Unmarshal(pending, &en) == nil {
				if keep {
					lines = append(lines, en)
				} else {
					emit(en)
				}
			}
			pending = nil
		}
	}
	readAll(true)
	if o.Tail >= 0 && len(lines) > o.Tail {
		lines = lines[len(lines)-o.Tail:]
	}
	for _, en := range lines {
		emit(en)
	}
	if !o.Follow {
		return nil
	}
	for {
		c, err := e.Inspect(id)
		running := err == nil && (c.State.Running || c.State.Restarting)
		readAll(false)
		if !running {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}
