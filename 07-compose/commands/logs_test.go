package commands

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogPrefixes(t *testing.T) {
	var out, errs bytes.Buffer
	lc := newLogConsumer(&out, &errs, false, true)
	for _, n := range []string{"web-1", "db-1", "api-10"} {
		lc.register(n)
	}
	w, e := lc.writers("web-1")
	fmt.Fprint(w, "one\ntwo\nthr")
	fmt.Fprint(w, "ee\n")
	fmt.Fprint(e, "oops\n")
	fmt.Fprint(w, "no newline at the end")
	w.Close()
	e.Close()
	d, _ := lc.writers("db-1")
	fmt.Fprint(d, "ready\n")
	// The prefix is padded to the longest name plus one, then " | ", as
	// compose's: "web-1   | " beside "api-10  | ".
	assert.Equal(t, "web-1   | one\nweb-1   | two\nweb-1   | three\nweb-1   | no newline at the end\ndb-1    | ready\n", out.String())
	assert.Equal(t, "web-1   | oops\n", errs.String(), "stderr lines go to stderr")
}

func TestLogPrefixOneService(t *testing.T) {
	var out bytes.Buffer
	lc := newLogConsumer(&out, &out, false, true)
	w, _ := lc.writers("web-1")
	fmt.Fprintln(w, "hello")
	assert.Equal(t, "web-1  | hello\n", out.String())
}

func TestLogNoPrefix(t *testing.T) {
	var out bytes.Buffer
	lc := newLogConsumer(&out, &out, true, false)
	w, _ := lc.writers("web-1")
	fmt.Fprintln(w, "hello")
	assert.Equal(t, "hello\n", out.String(), "--no-log-prefix: the bare lines, no colour either")
}

func TestLogColours(t *testing.T) {
	var out bytes.Buffer
	lc := newLogConsumer(&out, &out, true, true)
	a, _ := lc.writers("a-1")
	b, _ := lc.writers("b-1")
	fmt.Fprintln(a, "x")
	fmt.Fprintln(b, "y")
	lc.status("a-1", "exited with code 0")
	// compose's rainbow: cyan first, then yellow; the colour covers the
	// prefix only.
	assert.Equal(t, "\x1b[36ma-1  | \x1b[0mx\n\x1b[33mb-1  | \x1b[0my\n\x1b[36ma-1 exited with code 0\x1b[0m\n", out.String())
	for i := 0; i < 12; i++ {
		lc.register(fmt.Sprintf("s-%d", i))
	}
	assert.Equal(t, "36", lc.colors["s-8"], "the colours go round")
}

// TestLogLinesWhole: lines of several containers written at once never
// mix within a line.
func TestLogLinesWhole(t *testing.T) {
	var out bytes.Buffer
	lc := newLogConsumer(&out, &out, false, true)
	var wg sync.WaitGroup
	for i := range 4 {
		name := fmt.Sprintf("svc%d-1", i)
		lc.register(name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, _ := lc.writers(name)
			for j := range 200 {
				// in two writes, so a line is assembled before it is printed
				fmt.Fprintf(w, "%s line %d ", name, j)
				fmt.Fprintf(w, "end\n")
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 800)
	for _, l := range lines {
		prefix, rest, ok := strings.Cut(l, " | ")
		require.True(t, ok, l)
		assert.True(t, strings.HasPrefix(rest, strings.TrimSpace(prefix)+" line "), l)
		assert.True(t, strings.HasSuffix(rest, " end"), l)
	}
}

func TestParseTail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		err  bool
	}{
		{"all", -1, false}, {"", -1, false}, {"0", 0, false}, {"3", 3, false}, {"100", 100, false},
		{"-1", 0, true}, {"x", 0, true}, {"3 ", 0, true}, {"1.5", 0, true},
	} {
		got, err := parseTail(tc.in)
		if tc.err {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func FuzzParseTail(f *testing.F) {
	for _, s := range []string{"all", "0", "10", "-3", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseTail(s)
		if err == nil && n < -1 {
			t.Fatalf("parseTail(%q) = %d", s, n)
		}
	})
}

func TestParseSince(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"", time.Time{}, false},
		{"42m", now.Add(-42 * time.Minute), false},
		{"1h30m", now.Add(-90 * time.Minute), false},
		{"2013-01-02T13:23:37Z", time.Date(2013, 1, 2, 13, 23, 37, 0, time.UTC), false},
		{"2013-01-02", time.Date(2013, 1, 2, 0, 0, 0, 0, time.UTC), false},
		{"1700000000", time.Unix(1700000000, 0), false},
		{"yesterday", time.Time{}, true},
	} {
		got, err := parseSince(tc.in, now)
		if tc.err {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.True(t, tc.want.Equal(got), "%s: %v", tc.in, got)
	}
}

func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"42m", "2013-01-02T13:23:37Z", "1700000000.5", "-1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { parseSince(s, now) })
}
