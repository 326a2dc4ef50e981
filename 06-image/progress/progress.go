// Package progress draws what `docker pull` and `docker push` draw: one
// line per layer. On a terminal each layer is a live bar (mpb), redrawn in
// place with cursor movements; anywhere else (a pipe, a log, CI) each status
// change is one plain line, "<id>: <status>", and the byte-level statuses
// are left out, as Docker's jsonmessage drops progress lines when its output
// is not a terminal.
//
// It is the adapter of github.com/vbauerster/mpb/v8: no mpb type leaves
// this package.
package progress

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// transferring are the statuses that Docker shows only with a bar
// (Downloading, Extracting, Pushing): the plain form skips them.
var transferring = map[string]bool{"Downloading": true, "Extracting": true, "Pushing": true}

// Progress is a set of bars on one writer. Its methods are safe for
// concurrent use (a pull fetches up to three layers at once).
type Progress struct {
	w   io.Writer
	tty bool
	mu  sync.Mutex // orders the plain lines
	mpb *mpb.Progress

	barsMu sync.Mutex
	bars   []*Bar
}

// New returns a Progress writing to w, with live bars when tty is true.
func New(w io.Writer, tty bool) *Progress {
	p := &Progress{w: w, tty: tty}
	if tty {
		// The container redraws every bar in place; width 50 is Docker's.
		p.mpb = mpb.New(mpb.WithOutput(w), mpb.WithWidth(50), mpb.WithAutoRefresh())
	}
	return p
}

// Bar is one line: a layer (id = its short digest) and its status.
type Bar struct {
	p      *Progress
	id     string
	status atomic.Value // string
	bar    *mpb.Bar
	total  int64

	mu   sync.Mutex
	last string // the last status printed in the plain form
}

// Bar adds a line for id with the first status; total is the byte count a
// Reader will carry (0 when no transfer follows, such as "Already exists").
func (p *Progress) Bar(id, status string, total int64) *Bar {
	b := &Bar{p: p, id: id, total: total}
	b.status.Store(status)
	if p.tty {
		// Built with total 0 so that it never completes by itself (mpb
		// would draw its last frame when the bytes are in, before the
		// statuses that follow); the total is only for display.
		b.bar = p.mpb.New(0,
			mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding(" ").Rbound("]"),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
				return b.id + ": " + b.status.Load().(string)
			})),
			// Only a transfer shows its bar and its counters.
			mpb.BarFillerMiddleware(func(f mpb.BarFiller) mpb.BarFiller {
				return mpb.BarFillerFunc(func(w io.Writer, st decor.Statistics) error {
					if !transferring[b.status.Load().(string)] {
						return nil
					}
					return f.Fill(w, st)
				})
			}),
			mpb.AppendDecorators(decor.Any(func(st decor.Statistics) string {
				if !transferring[b.status.Load().(string)] || st.Total <= 0 {
					return ""
				}
				return fmt.Sprintf(" %s/%s", size(st.Current), size(st.Total))
			})),
		)
		if total > 0 {
			b.bar.SetTotal(total, false)
		}
		p.barsMu.Lock()
		p.bars = append(p.bars, b)
		p.barsMu.Unlock()
		return b
	}
	b.plain(status)
	return b
}

// plain prints "<id>: <status>" once per change, skipping transfers.
func (b *Bar) plain(status string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if status == b.last || transferring[status] {
		return
	}
	b.last = status
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	fmt.Fprintf(b.p.w, "%s: %s\n", b.id, status)
}

// Status changes the line's status ("Verifying Checksum", "Pull complete").
func (b *Bar) Status(s string) {
	b.status.Store(s)
	if b.bar == nil {
		b.plain(s)
	}
}

// Reader returns r, counting what is read from it into the bar.
func (b *Bar) Reader(r io.Reader) io.Reader {
	if b.bar == nil {
		return r
	}
	return &counting{r: r, bar: b.bar}
}

type counting struct {
	r   io.Reader
	bar *mpb.Bar
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bar.IncrBy(n)
	return n, err
}

// Wait completes every bar (each keeps its last status on screen) and
// waits until the last frame is drawn. Call it once, at the end.
func (p *Progress) Wait() {
	if !p.tty {
		return
	}
	p.barsMu.Lock()
	for _, b := range p.bars {
		b.bar.SetTotal(-1, true) // -1: total = current, then complete
	}
	p.barsMu.Unlock()
	p.mpb.Wait()
}

// size is Docker's units.HumanSize: decimal, 3 significant digits ("2.5MB").
func size(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}
