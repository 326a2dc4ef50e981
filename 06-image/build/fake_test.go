package build

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/images"
	"minibox/04-storage/storage"
)

// fakeExec is the Executor and Snapshots of the pure tests: no container,
// no mount. RUN "write PATH TEXT" makes a layer with that file, "exit N"
// exits N, anything else makes a layer with one file named after the run;
// each run prints "fake: CMD". Change and View work on a copy of the
// image's layers in a temporary directory (a tiny overlay: the diff is what
// changed against that copy), so the layers are real ones in a real store.
type fakeExec struct {
	t     *testing.T
	store *images.Store
	mu    sync.Mutex
	runs  []RunRequest
	n     int
}

func (f *fakeExec) Run(ctx context.Context, r RunRequest) (RunResult, error) {
	f.mu.Lock()
	f.runs = append(f.runs, r)
	f.n++
	n := f.n
	f.mu.Unlock()
	if r.Created != nil {
		r.Created(fmt.Sprintf("c%011d%052d", n, 0))
	}
	text := r.Cmd[len(r.Cmd)-1]
	fmt.Fprintf(r.Stdout, "fake: %s\n", strings.Join(r.Cmd, " "))
	if code, ok := strings.CutPrefix(text, "exit "); ok {
		c, err := strconv.Atoi(code)
		if err != nil {
			return RunResult{}, err
		}
		return RunResult{ExitCode: c}, nil
	}
	files := map[string]string{}
	if rest, ok := strings.CutPrefix(text, "write "); ok {
		p, content, _ := strings.Cut(rest, " ")
		files[p] = content
	} else if text == "true" {
		return RunResult{Empty: true}, nil
	} else {
		files["/run-"+digest.FromString(strings.Join(r.Cmd, " ")).Encoded()[:12]] = strings.Join(r.Env, "\n")
	}
	l, err := f.store.PutLayer(func(w io.Writer) error { return tarOf(w, files) })
	return RunResult{Layer: l}, err
}

func (f *fakeExec) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.runs)
}

func (f *fakeExec) last() RunRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs[len(f.runs)-1]
}

// tarOf writes a layer tar of regular files (parents implied).
func tarOf(w io.Writer, files map[string]string) error {
	tw := tar.NewWriter(w)
	for p, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg, Uid: os.Getuid(), Gid: os.Getgid()}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, c); err != nil {
			return err
		}
	}
	return tw.Close()
}

// materialize copies the image's layers, bottom first, into dir.
func (f *fakeExec) materialize(image digest.Digest, dir string) error {
	if image == "" {
		return nil
	}
	img, err := f.store.Resolve(image.String())
	if err != nil {
		return err
	}
	for _, d := range img.DiffIDs {
		p, err := f.store.Layers.Path(d)
		if err != nil {
			return err
		}
		if err := copyTree(p, dir); err != nil {
			return err
		}
	}
	return nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(to, 0o755); err != nil {
				return err
			}
			return os.Chmod(to, fi.Mode().Perm())
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_ = os.Remove(to)
			return os.WriteFile(to, b, fi.Mode().Perm())
		}
		return nil // the tests' layers hold files and directories only
	})
}

func (f *fakeExec) Change(ctx context.Context, image digest.Digest, change func(root string) error) (RunResult, error) {
	lower, merged, upper := f.t.TempDir(), f.t.TempDir(), f.t.TempDir()
	if err := f.materialize(image, lower); err != nil {
		return RunResult{}, err
	}
	if err := copyTree(lower, merged); err != nil {
		return RunResult{}, err
	}
	if err := change(merged); err != nil {
		return RunResult{}, err
	}
	// The upper directory: what is new or different in merged.
	changed := false
	err := filepath.WalkDir(merged, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == merged {
			return err
		}
		rel, _ := filepath.Rel(merged, p)
		fi, _ := d.Info()
		old, lerr := os.Lstat(filepath.Join(lower, rel))
		same := lerr == nil && old.Mode() == fi.Mode() &&
			old.Sys().(*syscall.Stat_t).Uid == fi.Sys().(*syscall.Stat_t).Uid &&
			old.Sys().(*syscall.Stat_t).Gid == fi.Sys().(*syscall.Stat_t).Gid
		if same && fi.Mode().IsRegular() {
			a, _ := os.ReadFile(p)
			b, _ := os.ReadFile(filepath.Join(lower, rel))
			same = bytes.Equal(a, b)
		}
		if same {
			return nil
		}
		changed = true
		to := filepath.Join(upper, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.MkdirAll(to, fi.Mode().Perm()); err != nil {
				return err
			}
		} else {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
				return err
			}
		}
		if os.Geteuid() == 0 { // keep --chown's owner for the layer tar
			st := fi.Sys().(*syscall.Stat_t)
			return os.Lchown(to, int(st.Uid), int(st.Gid))
		}
		return nil
	})
	if err != nil || !changed {
		return RunResult{Empty: !changed}, err
	}
	l, err := f.store.PutLayer(func(w io.Writer) error { _, err := storage.WriteTar(w, upper); return err })
	return RunResult{Layer: l}, err
}

func (f *fakeExec) View(ctx context.Context, image digest.Digest, fn func(root string) error) error {
	dir := f.t.TempDir()
	if err := f.materialize(image, dir); err != nil {
		return err
	}
	return fn(dir)
}

// env is one test's store, fake and build context.
type env struct {
	t     *testing.T
	store *images.Store
	fake  *fakeExec
	b     *Builder
	dir   string // the build context
	base  digest.Digest
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root := t.TempDir()
	layers, err := storage.NewStore(filepath.Join(root, "layers"))
	require.NoError(t, err)
	st, err := images.New(filepath.Join(root, "images"), layers)
	require.NoError(t, err)
	e := &env{t: t, store: st, dir: t.TempDir()}
	e.fake = &fakeExec{t: t, store: st}
	e.b = &Builder{Store: st, Exec: e.fake}
	e.base = e.importImage("base:latest", map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1001:\n",
		"bin/sh":     "#!fake shell\n",
	})
	return e
}

func (e *env) importImage(ref string, files map[string]string) digest.Digest {
	e.t.Helper()
	var buf bytes.Buffer
	require.NoError(e.t, tarOf(&buf, files))
	img, err := e.store.Import(&buf, ref, nil, "")
	require.NoError(e.t, err)
	return img.ID
}

// file writes a file of the build context.
func (e *env) file(name, content string) {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	require.NoError(e.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(e.t, os.WriteFile(p, []byte(content), 0o644))
}

// build writes the Dockerfile and builds it; it returns the image and the
// output.
func (e *env) build(dockerfile string, o Options) (digest.Digest, string, error) {
	e.t.Helper()
	e.file("Dockerfile", dockerfile)
	var out bytes.Buffer
	o.ContextDir = e.dir
	o.Out = &out
	id, err := e.b.Build(context.Background(), o)
	return id, out.String(), err
}

func (e *env) mustBuild(dockerfile string, o Options) (digest.Digest, string) {
	e.t.Helper()
	id, out, err := e.build(dockerfile, o)
	require.NoError(e.t, err, out)
	return id, out
}

// image reads a built image's config as stored.
func (e *env) image(id digest.Digest) Image {
	e.t.Helper()
	img, _, err := loadImage(e.store, id)
	require.NoError(e.t, err)
	return img
}

// hits tells, per step after FROM, whether it was a cache hit, from the
// builder's output.
func hits(out string) []bool {
	var res []bool
	inStep := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "Step "):
			if strings.Contains(line, " : FROM ") {
				inStep = false
				continue
			}
			inStep = true
			res = append(res, false)
		case line == " ---> Using cache" && inStep:
			res[len(res)-1] = true
		}
	}
	return res
}

// layerFile reads path from the image's top layer that has it.
func (e *env) layerFile(id digest.Digest, path string) (string, bool) {
	e.t.Helper()
	img, err := e.store.Resolve(id.String())
	require.NoError(e.t, err)
	for i := len(img.DiffIDs) - 1; i >= 0; i-- {
		p, err := e.store.Layers.Path(img.DiffIDs[i])
		require.NoError(e.t, err)
		if b, err := os.ReadFile(filepath.Join(p, path)); err == nil {
			return string(b), true
		}
	}
	return "", false
}

func chtimes(p string, t time.Time) error { return os.Chtimes(p, t, t) }

func chmod(p string, m os.FileMode) error { return os.Chmod(p, m) }
