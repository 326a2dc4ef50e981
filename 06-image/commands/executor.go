package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"

	"golang.org/x/sys/unix"

	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/containerfs"
	"minibox/04-storage/engine"
	"minibox/04-storage/storage"
	"minibox/06-image/build"
)

// Executor runs a build's RUN steps in real containers of the engine, as
// Docker's classic builder does: a container from the step's parent image
// with the step's command, environment, working directory and user; its
// output relayed to the build's; and, when it exits 0, the diff of its
// read-write layer (the overlay's upper directory, lesson 04's WriteTar)
// stored as the step's layer. The container is removed in every case.
type Executor struct {
	Engine *engine.Engine
}

var (
	_ build.Executor  = (*Executor)(nil)
	_ build.Snapshots = (*Executor)(nil)
)

// Run implements build.Executor.
func (x *Executor) Run(ctx context.Context, r build.RunRequest) (res build.RunResult, err error) {
	e := x.Engine
	fs, ok := e.Options().Storage.(*containerfs.Storage)
	if !ok || fs.Images == nil {
		return res, errors.New("build: this engine's storage cannot diff containers")
	}
	network := r.Network
	if network == "" {
		network = "default"
	}
	stdout := r.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	// Entrypoint [""] clears the image's ENTRYPOINT: a RUN step's argv is
	// the whole command (Docker's builder does the same).
	req := engine.CreateRequest{
		Config: engine.Config{
			Image: r.Image.String(), Cmd: r.Cmd, Env: r.Env, WorkingDir: r.WorkingDir, User: r.User,
			Entrypoint: []string{""}, AttachStdout: true, AttachStderr: true,
			Labels: map[string]string{},
			// A step runs no HEALTHCHECK of its base (Docker's builder
			// sets the same, withoutHealthcheck).
			Healthcheck: &engine.HealthConfig{Test: []string{"NONE"}},
		},
		HostConfig: engine.HostConfig{NetworkMode: network},
		Spec:       lesson04.SpecFromImage,
	}
	ctr, err := e.Create(req)
	if err != nil {
		return res, fmt.Errorf("build: create the step's container: %w", err)
	}
	defer func() {
		if rerr := e.Remove(ctr.ID, true, true); rerr != nil && err == nil {
			err = fmt.Errorf("build: remove the step's container: %w", rerr)
		}
	}()
	if r.Created != nil {
		r.Created(ctr.ID) // " ---> Running in <12 hex>"
	}
	code, err := x.start(ctx, ctr.ID, stdout)
	if err != nil {
		return res, err
	}
	res.ExitCode = code
	if code != 0 {
		return res, nil
	}
	in, err := e.Inspect(ctr.ID)
	if err != nil {
		return res, err
	}
	sn, err := fs.Snapshotter(in.Container)
	if err != nil {
		return res, err
	}
	changes, err := sn.Changes(ctr.ID)
	if err != nil {
		return res, fmt.Errorf("build: the step's changes: %w", err)
	}
	if len(changes) == 0 {
		res.Empty = true // nothing changed: no layer
		return res, nil
	}
	// The diff streams into the store once: unpacked into the layer store
	// and, teed, kept as the blob blobs/sha256/<diffID>.
	res.Layer, err = fs.Images.PutLayer(func(w io.Writer) error {
		_, err := sn.Diff(ctr.ID, w)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("build: store the step's layer: %w", err)
	}
	return res, nil
}

// start starts the container with a socket pair as its first attach
// client (so no output is missed), relays its output and returns its exit
// code. A cancelled ctx kills the container.
func (x *Executor) start(ctx context.Context, id string, stdout io.Writer) (int, error) {
	e := x.Engine
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "attach"), os.NewFile(uintptr(fds[1]), "attach")
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return 0, err
	}
	defer conn.Close()
	err = e.Start(id, theirs)
	theirs.Close()
	if err != nil {
		return 0, fmt.Errorf("build: start the step's container: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { e.Kill(id, "KILL") })
	defer stop()
	code, err := engine.Relay(conn, engine.AttachOptions{Stdout: stdout, Stderr: stdout})
	if errors.Is(err, engine.ErrNoExitCode) {
		code, err = e.Wait(id, "not-running")
	}
	e.WaitMonitors(30e9)
	if err != nil {
		return 0, fmt.Errorf("build: the step's container: %w", err)
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return code, nil
}

// Change implements build.Snapshots: WORKDIR, COPY and ADD change an
// image's files without a process. A writable snapshot of the image (the
// same snapshotter a container gets, its layers as the lower dirs) is
// mounted on a temporary directory, change writes into it, and the
// snapshot's diff becomes the layer. The snapshot goes in every case.
func (x *Executor) Change(ctx context.Context, image digest.Digest, change func(root string) error) (res build.RunResult, err error) {
	err = x.withSnapshot(image, func(sn storage.Snapshotter, id, root string) error {
		if err := change(root); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		changes, err := sn.Changes(id)
		if err != nil {
			return fmt.Errorf("build: the step's changes: %w", err)
		}
		if len(changes) == 0 {
			res.Empty = true
			return nil
		}
		fs, _ := x.Engine.Options().Storage.(*containerfs.Storage)
		res.Layer, err = fs.Images.PutLayer(func(w io.Writer) error {
			_, err := sn.Diff(id, w)
			return err
		})
		if err != nil {
			return fmt.Errorf("build: store the step's layer: %w", err)
		}
		return nil
	})
	return res, err
}

// View implements build.Snapshots: the image's root, mounted for fn to
// read (COPY --from). Its changes, if any, are thrown away.
func (x *Executor) View(ctx context.Context, image digest.Digest, fn func(root string) error) error {
	return x.withSnapshot(image, func(_ storage.Snapshotter, _, root string) error { return fn(root) })
}

// withSnapshot prepares a snapshot of image ("" = an empty root), mounts
// it on a temporary directory under the exec root, calls fn, and unmounts
// and removes it all.
func (x *Executor) withSnapshot(image digest.Digest, fn func(sn storage.Snapshotter, id, root string) error) (err error) {
	e := x.Engine
	fs, ok := e.Options().Storage.(*containerfs.Storage)
	if !ok || fs.Images == nil {
		return errors.New("build: this engine's storage has no snapshots")
	}
	var layers []digest.Digest
	if image != "" {
		img, err := fs.Images.Resolve(image.String())
		if err != nil {
			return err
		}
		layers = img.DiffIDs
	}
	sn, err := fs.Snapshotter(&engine.Container{})
	if err != nil {
		return err
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	id := "build-" + hex.EncodeToString(rnd[:])
	if err := sn.Prepare(id, layers); err != nil {
		return fmt.Errorf("build: prepare a snapshot of %s: %w", image, err)
	}
	defer func() {
		if rerr := sn.Remove(id); rerr != nil && err == nil {
			err = fmt.Errorf("build: remove the snapshot: %w", rerr)
		}
	}()
	dir := filepath.Join(e.ExecRoot(), "build")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	root, err := os.MkdirTemp(dir, "root-")
	if err != nil {
		return err
	}
	defer os.Remove(root)
	if err := sn.Mount(id, root); err != nil {
		return fmt.Errorf("build: mount the snapshot: %w", err)
	}
	mounted := true
	defer func() {
		if mounted {
			if uerr := storage.Unmount(root); uerr != nil && err == nil {
				err = uerr
			}
		}
	}()
	// fn writes through the mount; overlayfs puts every write in the
	// snapshot's upper directory, which the diff reads.
	return fn(sn, id, root)
}
