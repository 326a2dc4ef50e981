package progress

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// pull draws what a pull of two layers draws, one already there.
func pull(p *Progress) {
	data := strings.Repeat("x", 3000)
	a := p.Bar("5cc84ad355aa", "Pulling fs layer", int64(len(data)))
	b := p.Bar("0e29a7b4ff10", "Already exists", 0)
	a.Status("Downloading")
	n, _ := io.Copy(io.Discard, a.Reader(strings.NewReader(data)))
	_ = n
	a.Status("Verifying Checksum")
	a.Status("Download complete")
	a.Status("Extracting")
	a.Status("Pull complete")
	a.Status("Pull complete") // no change, no line
	_ = b
	p.Wait()
}

func TestPlainGolden(t *testing.T) {
	var out bytes.Buffer
	pull(New(&out, false))
	golden := filepath.Join("testdata", "plain.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), out.String())
}

func TestTTY(t *testing.T) {
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 100}))
	var screen lockedBuffer
	read := make(chan struct{})
	go func() {
		io.Copy(&screen, ptmx) // ends with EIO once tty is closed
		close(read)
	}()

	p := New(tty, true)
	data := strings.Repeat("x", 5000)
	a := p.Bar("5cc84ad355aa", "Pulling fs layer", int64(len(data)))
	p.Bar("0e29a7b4ff10", "Already exists", 0)
	a.Status("Downloading")
	r := a.Reader(strings.NewReader(data))
	buf := make([]byte, 1000)
	for i := 0; i < 3; i++ {
		_, err := io.ReadFull(r, buf)
		require.NoError(t, err)
	}
	// mpb redraws every 150ms: wait for a frame mid-transfer.
	require.Eventually(t, func() bool { return strings.Contains(screen.String(), "3kB/5kB") }, 10*time.Second, 20*time.Millisecond)
	io.Copy(io.Discard, r)
	a.Status("Pull complete")
	p.Wait()
	require.NoError(t, tty.Close())
	select {
	case <-read:
	case <-time.After(5 * time.Second):
		t.Fatal("the pty did not drain")
	}
	out := screen.String()
	assert.Contains(t, out, "5cc84ad355aa: Downloading [", "a bar while it transfers")
	assert.Regexp(t, `Downloading \[=*>? *\] +3kB/5kB`, out, "the bar's counters mid-transfer")
	assert.Contains(t, out, "5cc84ad355aa: Pull complete")
	assert.Contains(t, out, "0e29a7b4ff10: Already exists")
	assert.NotContains(t, lastFrame(out), "[", "no bar once done")
	assert.Contains(t, out, "\x1b[", "redrawn in place with escape sequences")
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lastFrame is what follows the last cursor-up sequence: the final screen.
func lastFrame(s string) string {
	if i := strings.LastIndex(s, "\x1b["); i >= 0 {
		s = s[i:]
		if j := strings.IndexAny(s, "ABJK"); j >= 0 {
			s = s[j+1:]
		}
	}
	return s
}
