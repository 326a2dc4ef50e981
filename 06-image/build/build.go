package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"

	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/06-image/buildctx"
	"minibox/06-image/dockerfile"
)

// Options are `build`'s flags.
type Options struct {
	// Dockerfile is -f, as the docker CLI takes it: relative to the
	// current directory (or, for a context from Stdin, a name inside it);
	// "" is the context's Dockerfile.
	Dockerfile string
	// ContextDir is the build context; "-" reads it from Stdin (a tar, or
	// a lone Dockerfile with an empty context).
	ContextDir string
	Stdin      io.Reader
	Tags       []string // -t, each tagged when the build succeeds
	Target     string   // --target: the last stage to build
	// BuildArgs are --build-arg (see ParseBuildArgs); a nil value means
	// "declared without a value".
	BuildArgs map[string]*string
	Labels    map[string]string // --label (see ParseLabels)
	NoCache   bool              // --no-cache: look nothing up (new step images are still recorded)
	Quiet     bool              // -q: print only the image ID
	Pull      bool              // --pull: pull every FROM image even if it is here
	Network   string            // --network for RUN ("" = the engine's default)
	Out       io.Writer         // the classic builder's lines and RUN's output
}

// Executor runs a RUN step: a container from r.Image with r.Cmd as its
// process (the entrypoint cleared), its output to r.Stdout. When the
// process exits 0 it stores the container's diff as a layer (Layer; Empty
// when the process changed no file). It always removes the container.
// 06-image/commands implements it over the engine; tests fake it.
type Executor interface {
	Run(ctx context.Context, r RunRequest) (RunResult, error)
}

// RunRequest is one RUN step's container.
type RunRequest struct {
	Image                     digest.Digest
	Cmd, Env                  []string
	WorkingDir, User, Network string
	Stdout                    io.Writer
	// Created, when set, is called with the container's ID once the
	// container exists and before its process starts: the builder prints
	// " ---> Running in <12 hex>" then.
	Created func(containerID string)
}

// RunResult is what a RUN (or a snapshot change) left.
type RunResult struct {
	ExitCode int
	Layer    images.LayerBlob // the diff, stored (Store.PutLayer)
	Empty    bool             // nothing changed: no layer
}

// Snapshots changes an image's file system without a process: WORKDIR
// makes its directory and COPY/ADD copy their files into a writable
// snapshot of the image mounted on the host (Snapshotter.Prepare + Mount
// on a temporary target), and the snapshot's diff becomes the step's
// layer. 06-image/commands implements it over lesson 04's snapshotter.
type Snapshots interface {
	// Change prepares a writable snapshot of image ("" = scratch), mounts
	// it, calls change with the mounted root, and on success stores the
	// snapshot's diff as a layer (RunResult.Layer; Empty when nothing
	// changed). It unmounts and removes the snapshot in every case.
	Change(ctx context.Context, image digest.Digest, change func(root string) error) (RunResult, error)
	// View mounts image read-only (COPY --from) and calls fn with its root.
	View(ctx context.Context, image digest.Digest, fn func(root string) error) error
}

// Builder builds images into Store. Exec runs RUN steps; Snapshots (or
// Exec, if it implements Snapshots too) does WORKDIR, COPY and ADD; Pull,
// when set, fetches a FROM image that is not here (or every one, with
// --pull).
type Builder struct {
	Store     *images.Store
	Exec      Executor
	Pull      func(ctx context.Context, ref string) (*engine.Image, error)
	Snapshots Snapshots
}

// RunError is a RUN whose process exited non-zero; its message is
// Docker's.
type RunError struct {
	Cmd  []string
	Code int
}

func (e *RunError) Error() string {
	return fmt.Sprintf("The command '%s' returned a non-zero code: %d", strings.Join(e.Cmd, " "), e.Code)
}

// run is the state of one Build.
type run struct {
	b       *Builder
	o       Options
	out     io.Writer
	ctx     context.Context
	bctx    *buildctx.Context
	lex     *dockerfile.Lex
	args    *args
	cache   *Cache
	step    int
	total   int
	results []result // each built stage's name and image, in order
}

type result struct {
	name string
	img  digest.Digest
}

// stage is one stage's state while it is built.
type stage struct {
	name   string
	img    digest.Digest // the current image; "" for scratch
	image  Image
	layers []images.LayerBlob
	scope  scope
	shell  []string
	// This stage's ENTRYPOINT and CMD, and the FROM image's config:
	// dockerfile.ProcessArgs composes the image's from them.
	ep, cmd       []string
	epSet, cmdSet bool
	base          imagespec.ImageConfig
	cacheOff      bool // a miss turned the cache off for the rest of the stage
}

var defaultShell = []string{"/bin/sh", "-c"}

// Build builds the Dockerfile of o and returns the image ID. It prints
// what Docker's classic builder prints to o.Out; a failed step returns
// its error (a RunError for a RUN that exited non-zero) and tags nothing.
func (b *Builder) Build(ctx context.Context, o Options) (digest.Digest, error) {
	out := o.Out
	if out == nil || o.Quiet {
		out = io.Discard
	}
	var tags []images.Reference
	for _, t := range o.Tags {
		ref, err := images.ParseReference(t)
		if err != nil {
			return "", fmt.Errorf("invalid argument %q for \"-t, --tag\" flag: %w", t, err)
		}
		tags = append(tags, ref)
	}
	bctx, dfText, cleanup, err := openContext(o)
	if err != nil {
		return "", err
	}
	defer cleanup()
	size, err := bctx.Size()
	if err != nil {
		return "", fmt.Errorf("build context: %w", err)
	}
	fmt.Fprintf(out, "Sending build context to Docker daemon  %s\n", humanSize(size))
	f, err := dockerfile.Parse(bytes.NewReader(dfText))
	if err != nil {
		return "", err
	}
	escape := f.Escape
	if escape == 0 {
		escape = '\\'
	}
	r := &run{
		b: b, o: o, out: out, ctx: ctx, bctx: bctx,
		lex:   dockerfile.NewLex(escape),
		args:  newArgs(o.BuildArgs, dockerfile.PredefinedArgs()),
		cache: OpenCache(b.Store),
	}
	stages := f.Stages
	if len(stages) == 0 {
		return "", errors.New("No image was generated. Is your Dockerfile empty?")
	}
	if o.Target != "" {
		i := slices.IndexFunc(stages, func(s dockerfile.Stage) bool { return strings.EqualFold(s.Name, o.Target) })
		if i < 0 {
			return "", fmt.Errorf("failed to reach build target %s in Dockerfile", o.Target)
		}
		// The classic builder builds every stage up to the target, used
		// by it or not.
		stages = stages[:i+1]
	}
	// --label is a LABEL step at the end of the last stage built, as
	// Docker appends one to the Dockerfile.
	var labelStep *dockerfile.Step
	if len(o.Labels) > 0 {
		labelStep = labelsStep(o.Labels)
	}
	r.total = len(f.MetaArgs) + len(stages)
	for _, s := range stages {
		r.total += len(s.Steps)
	}
	if labelStep != nil {
		r.total++
	}
	for _, a := range f.MetaArgs {
		r.printStep(metaArgLine(a))
		def := a.Value
		if def != nil {
			v, err := r.lex.Word(*def, r.args.metaEnv())
			if err != nil {
				return "", fmt.Errorf("ARG %s: %w", a.Key, err)
			}
			def = &v
		}
		r.args.addMeta(a.Key, def)
	}
	for i, s := range stages {
		var extra *dockerfile.Step
		if i == len(stages)-1 {
			extra = labelStep
		}
		if err := r.buildStage(s, extra); err != nil {
			return "", err
		}
	}
	if left := r.args.unused(); len(left) > 0 {
		fmt.Fprintf(out, "[Warning] One or more build-args %v were not consumed\n", left)
	}
	id := r.results[len(r.results)-1].img
	if id == "" {
		return "", errors.New("No image was generated. Is your Dockerfile empty?")
	}
	fmt.Fprintf(out, "Successfully built %s\n", short(id))
	for _, t := range tags {
		if err := b.Store.Tag(id.String(), t.String()); err != nil {
			return "", fmt.Errorf("tag %s: %w", t.FamiliarString(), err)
		}
		fmt.Fprintf(out, "Successfully tagged %s\n", t.FamiliarString())
	}
	if o.Quiet && o.Out != nil {
		fmt.Fprintln(o.Out, id.String())
	}
	return id, nil
}

// openContext opens the build context and reads its Dockerfile.
func openContext(o Options) (*buildctx.Context, []byte, func(), error) {
	var c *buildctx.Context
	cleanup := func() {}
	if o.ContextDir == "-" {
		if o.Stdin == nil {
			return nil, nil, cleanup, errors.New("build context: - needs a standard input")
		}
		tmp, err := os.MkdirTemp("", "minibox-build-")
		if err != nil {
			return nil, nil, cleanup, fmt.Errorf("build context: %w", err)
		}
		cleanup = func() { os.RemoveAll(tmp) }
		if c, err = buildctx.FromTar(o.Stdin, tmp); err != nil {
			cleanup()
			return nil, nil, func() {}, err
		}
		if o.Dockerfile != "" {
			c.Dockerfile = o.Dockerfile // inside the tar
		}
	} else {
		dir := o.ContextDir
		if dir == "" {
			dir = "."
		}
		var err error
		if c, err = buildctx.Open(dir, o.Dockerfile); err != nil {
			return nil, nil, cleanup, err
		}
	}
	df, err := c.ReadDockerfile()
	if err != nil {
		cleanup()
		return nil, nil, func() {}, err
	}
	return c, df, cleanup, nil
}

// humanSize is Docker's units.HumanSize: decimal units, 4 significant
// digits ("2.048kB").
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

func short(id digest.Digest) string {
	if id == "" {
		return "" // scratch: Docker prints " ---> " with nothing after
	}
	e := id.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}

func (r *run) printStep(line string) {
	r.step++
	fmt.Fprintf(r.out, "Step %d/%d : %s\n", r.step, r.total, line)
}

func metaArgLine(a dockerfile.Arg) string {
	if a.Value != nil {
		return "ARG " + a.Key + "=" + *a.Value
	}
	return "ARG " + a.Key
}

// buildStage builds one stage: FROM, the base's ONBUILD triggers, then
// each step; extra (the --label step) comes last.
func (r *run) buildStage(s dockerfile.Stage, extra *dockerfile.Step) error {
	r.printStep(fromLine(s))
	st, err := r.from(s)
	if err != nil {
		return err
	}
	if triggers := st.image.Config.OnBuild; len(triggers) > 0 {
		// The triggers run in the child, and the child does not inherit
		// them (Docker's rule: ONBUILD fires one level down only).
		st.image.Config.OnBuild = nil
		plural := ""
		if len(triggers) > 1 {
			plural = "s"
		}
		fmt.Fprintf(r.out, "# Executing %d build trigger%s\n", len(triggers), plural)
		for _, t := range triggers {
			step, err := parseTrigger(t)
			if err != nil {
				return err
			}
			if err := r.dispatch(st, step); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(r.out, " ---> %s\n", short(st.img))
	steps := s.Steps
	if extra != nil {
		steps = append(slices.Clone(steps), *extra)
	}
	for _, step := range steps {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		r.printStep(step.Original)
		if err := r.dispatch(st, step); err != nil {
			return err
		}
		fmt.Fprintf(r.out, " ---> %s\n", short(st.img))
	}
	r.results = append(r.results, result{name: st.name, img: st.img})
	return nil
}

func fromLine(s dockerfile.Stage) string {
	if s.Original != "" {
		return s.Original
	}
	line := "FROM "
	if s.Platform != "" {
		line += "--platform=" + s.Platform + " "
	}
	line += s.BaseName
	if s.Name != "" {
		line += " AS " + s.Name
	}
	return line
}

// parseTrigger parses an ONBUILD trigger ("RUN echo hi") as a step.
func parseTrigger(t string) (dockerfile.Step, error) {
	f, err := dockerfile.Parse(strings.NewReader("FROM scratch\n" + t + "\n"))
	if err != nil {
		return dockerfile.Step{}, fmt.Errorf("ONBUILD trigger %q: %w", t, err)
	}
	if len(f.Stages) != 1 || len(f.Stages[0].Steps) != 1 {
		return dockerfile.Step{}, fmt.Errorf("ONBUILD trigger %q: not one instruction", t)
	}
	return f.Stages[0].Steps[0], nil
}

// from starts a stage: its base is scratch, an earlier stage, or an image
// (pulled when it is missing, or always with --pull).
func (r *run) from(s dockerfile.Stage) (*stage, error) {
	base, err := r.lex.Word(s.BaseName, r.args.metaEnv())
	if err != nil {
		return nil, fmt.Errorf("FROM %s: %w", s.BaseName, err)
	}
	st := &stage{name: strings.ToLower(s.Name), shell: defaultShell}
	switch {
	case strings.EqualFold(base, "scratch"):
		st.image = Image{Image: imagespec.Image{
			Platform: imagespec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
			RootFS:   imagespec.RootFS{Type: "layers"},
		}}
		return st, nil
	}
	id := r.stageImage(base)
	if id == "" {
		var err error
		if id, err = r.image(base); err != nil {
			return nil, err
		}
	}
	if err := st.load(r.b.Store, id); err != nil {
		return nil, err
	}
	if len(st.image.Config.Shell) > 0 {
		st.shell = st.image.Config.Shell
	}
	st.base = st.image.Config.clone().ImageConfig
	return st, nil
}

// stageImage is the image of the built stage named name, or "".
func (r *run) stageImage(name string) digest.Digest {
	for i := len(r.results) - 1; i >= 0; i-- {
		if r.results[i].name != "" && strings.EqualFold(r.results[i].name, name) {
			return r.results[i].img
		}
	}
	return ""
}

// image resolves an image reference, pulling it when needed.
func (r *run) image(ref string) (digest.Digest, error) {
	if r.o.Pull && r.b.Pull != nil {
		img, err := r.b.Pull(r.ctx, ref)
		if err != nil {
			return "", err
		}
		return img.ID, nil
	}
	img, err := r.b.Store.Resolve(ref)
	if errors.Is(err, engine.ErrImageNotFound) && r.b.Pull != nil {
		img, err = r.b.Pull(r.ctx, ref)
	}
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

// load makes id the stage's current image.
func (st *stage) load(s *images.Store, id digest.Digest) error {
	img, layers, err := loadImage(s, id)
	if err != nil {
		return err
	}
	st.img, st.image, st.layers = id, img, layers
	return nil
}

// commit ends a step. next is the config the step produces and createdBy
// its history line; change, for a step that changes files, makes its
// layer. On a cache hit the cached step image becomes the stage's image
// and change is not called. Otherwise the step's image is stored (a child
// of the current one) and recorded in the cache under its key.
func (r *run) commit(st *stage, next Config, createdBy string, change func() (RunResult, error)) error {
	key := CacheKey(st.img, next.ImageConfig, createdBy)
	if !r.o.NoCache && !st.cacheOff {
		id, ok, err := r.cache.Get(key)
		if err != nil {
			return err
		}
		if ok {
			fmt.Fprintln(r.out, " ---> Using cache")
			return st.load(r.b.Store, id)
		}
		// Every later step of this stage has a new parent now, so no
		// image can exist for it: stop looking (Docker's rule).
		st.cacheOff = true
	}
	var layer *images.LayerBlob
	if change != nil {
		res, err := change()
		if err != nil {
			return err
		}
		if !res.Empty && res.Layer.DiffID != "" && res.Layer.DiffID != emptyTar {
			layer = &res.Layer
		}
	}
	now := time.Now().UTC()
	img := st.image
	img.Config = next
	img.Created = &now
	img.History = append(slices.Clone(img.History), imagespec.History{Created: &now, CreatedBy: createdBy, EmptyLayer: layer == nil})
	img.RootFS.Type = "layers"
	img.RootFS.DiffIDs = slices.Clone(img.RootFS.DiffIDs)
	layers := slices.Clone(st.layers)
	if layer != nil {
		img.RootFS.DiffIDs = append(img.RootFS.DiffIDs, layer.DiffID)
		layers = append(layers, *layer)
	}
	data, err := img.marshal()
	if err != nil {
		return fmt.Errorf("step image: %w", err)
	}
	added, err := r.b.Store.AddImage(data, layers, nil, st.img)
	if err != nil {
		return fmt.Errorf("step image: %w", err)
	}
	if err := r.cache.Put(key, added.ID); err != nil {
		return err
	}
	st.img, st.image, st.layers = added.ID, img, layers
	return nil
}

// snapshots is the Snapshots to use.
func (r *run) snapshots(what string) (Snapshots, error) {
	if r.b.Snapshots != nil {
		return r.b.Snapshots, nil
	}
	if s, ok := r.b.Exec.(Snapshots); ok {
		return s, nil
	}
	return nil, fmt.Errorf("%s: the builder has no Snapshots to change files with", what)
}
