package commands

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"minibox/04-storage/engine"
)

func (s *session) logsCmd() *cobra.Command {
	var o struct {
		follow, noColor, noPrefix, timestamps bool
		index                                 int
		tail, since, until                    string
	}
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] [SERVICE...]",
		Short: "View output from containers",
		RunE: run(func(cmd *cobra.Command, args []string) error {
			if o.index > 0 && len(args) != 1 {
				return fmt.Errorf("--index requires one service to be selected")
			}
			tail, err := parseTail(o.tail)
			if err != nil {
				return err
			}
			now := time.Now()
			lo := engine.LogOptions{Follow: o.follow, Tail: tail, Timestamps: o.timestamps}
			if lo.Since, err = parseSince(o.since, now); err != nil {
				return err
			}
			if lo.Until, err = parseSince(o.until, now); err != nil {
				return err
			}
			p, name, err := s.projectOrName(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			list, err := s.containers(selection{Project: name, Services: args, All: true, Index: o.index})
			if err != nil {
				return err
			}
			e, err := s.engine()
			if err != nil {
				return err
			}
			lc := newLogConsumer(cmd.OutOrStdout(), cmd.ErrOrStderr(), s.colour(cmd.OutOrStdout(), o.noColor), !o.noPrefix)
			for _, in := range list {
				lc.register(shortName(name, in.Name))
			}
			var wg sync.WaitGroup
			errs := make([]error, len(list))
			for i, in := range list {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stdout, stderr := lc.writers(shortName(name, in.Name))
					errs[i] = e.Logs(in.ID, lo, stdout, stderr)
					stdout.Close()
					stderr.Close()
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					return err
				}
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "Follow log output")
	f.IntVar(&o.index, "index", 0, "index of the container if service has multiple replicas")
	f.StringVar(&o.since, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.StringVar(&o.until, "until", "", "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.BoolVar(&o.noColor, "no-color", false, "Produce monochrome output")
	f.BoolVar(&o.noPrefix, "no-log-prefix", false, "Don't print prefix in logs")
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "Show timestamps")
	f.StringVarP(&o.tail, "tail", "n", "all", "Number of lines to show from the end of the logs for each container")
	return cmd
}

// colour says whether log prefixes are coloured: --ansi always, or auto
// and stdout a terminal, and not --no-color.
func (s *session) colour(w io.Writer, noColor bool) bool {
	if noColor {
		return false
	}
	switch s.o.ansi {
	case "always":
		return true
	case "never":
		return false
	}
	if s.getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// parseTail is --tail: "all" (or nothing) is every line, else a count.
func parseTail(s string) (int, error) {
	if s == "" || s == "all" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid value for \"tail\": %q is not a number of lines or \"all\"", s)
	}
	return n, nil
}

// parseSince is --since and --until: an RFC 3339 time, a Unix time
// (seconds, maybe with a fraction), or a duration back from now ("42m").
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("invalid value for \"since\": failed to parse value as time or duration: %q", s)
}

// The colours of compose's log prefixes, in the order it hands them out
// (cyan, yellow, green, magenta, blue, then the bright ones).
var rainbow = []string{"36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1"}

// logConsumer prints the lines of several containers, each line whole and
// prefixed with its container's short name padded to the longest name
// ("web-1  | ", "db-1   | "), as compose's log consumer does.
type logConsumer struct {
	mu             sync.Mutex
	stdout, stderr io.Writer
	color, prefix  bool
	names          []string
	colors         map[string]string
	width          int
}

func newLogConsumer(stdout, stderr io.Writer, color, prefix bool) *logConsumer {
	return &logConsumer{stdout: stdout, stderr: stderr, color: color, prefix: prefix, colors: map[string]string{}}
}

// register adds a container's name: its colour is the next one, and the
// padding grows to the longest name.
func (l *logConsumer) register(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.colors[name]; ok {
		return
	}
	l.colors[name] = rainbow[len(l.names)%len(rainbow)]
	l.names = append(l.names, name)
	l.width = max(l.width, len(name)+1)
}

// prefixOf is the name's prefix: "web-1  | ", coloured on a terminal.
func (l *logConsumer) prefixOf(name string) string {
	if !l.prefix {
		return ""
	}
	p := fmt.Sprintf("%-*s | ", l.width, name)
	if l.color {
		return "\033[" + l.colors[name] + "m" + p + "\033[0m"
	}
	return p
}

// line prints one line (with its newline) of a container to w.
func (l *logConsumer) line(w io.Writer, name string, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(w, l.prefixOf(name))
	w.Write(line)
	if len(line) == 0 || line[len(line)-1] != '\n' {
		io.WriteString(w, "\n")
	}
}

// status prints a line about a container, in its colour (compose's
// "web-1 exited with code 0").
func (l *logConsumer) status(name, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := name + " " + msg
	if l.color {
		s = "\033[" + l.colors[name] + "m" + s + "\033[0m"
	}
	fmt.Fprintln(l.stdout, s)
}

// writers are a container's stdout and stderr: each cuts what it is
// given into lines and prints them prefixed; Close prints a last line
// that had no newline.
func (l *logConsumer) writers(name string) (stdout, stderr io.WriteCloser) {
	l.register(name)
	return &lineWriter{l: l, w: l.stdout, name: name}, &lineWriter{l: l, w: l.stderr, name: name}
}

type lineWriter struct {
	l    *logConsumer
	w    io.Writer
	name string
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.l.line(w.w, w.name, w.buf[:i+1])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) Close() error {
	if len(w.buf) > 0 {
		w.l.line(w.w, w.name, w.buf)
		w.buf = nil
	}
	return nil
}

// joinNames is "a, b, c" (compose's "Attaching to ...").
func joinNames(names []string) string { return strings.Join(names, ", ") }
