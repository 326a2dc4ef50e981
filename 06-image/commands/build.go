package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/06-image/build"
)

// buildFlags are `docker build`'s (the classic builder's).
type buildFlags struct {
	tags, buildArgs, labels []string
	file, target, network   string
	noCache, quiet, pull    bool
}

// options turns the flags and the context argument into the builder's
// options; every check happens here, before anything is built.
func (f *buildFlags) options(arg string, stdin io.Reader, lookup func(string) (string, bool)) (build.Options, error) {
	var o build.Options
	tags, err := parseTags(f.tags)
	if err != nil {
		return o, err
	}
	args, err := parseBuildArgs(f.buildArgs, lookup)
	if err != nil {
		return o, err
	}
	labels, err := parseLabels(f.labels)
	if err != nil {
		return o, err
	}
	o = build.Options{Dockerfile: f.file, Tags: tags, Target: f.target, BuildArgs: args, Labels: labels,
		NoCache: f.noCache, Quiet: f.quiet, Pull: f.pull, Network: f.network}
	switch {
	case arg == "-":
		if f.file == "-" {
			return o, errors.New("invalid argument: can't use stdin for both build context and dockerfile")
		}
		o.ContextDir, o.Stdin = "-", stdin
	case strings.Contains(arg, "://") || strings.HasPrefix(arg, "git@"):
		return o, fmt.Errorf("unable to prepare context: remote contexts (%s) are not supported by minibox: clone or download it first", arg)
	default:
		st, err := os.Stat(arg)
		if err != nil {
			return o, fmt.Errorf("unable to prepare context: path %q not found", arg)
		}
		if !st.IsDir() {
			return o, fmt.Errorf("unable to prepare context: context must be a directory: %s", arg)
		}
		dir, err := filepath.Abs(arg)
		if err != nil {
			return o, fmt.Errorf("unable to prepare context: %w", err)
		}
		o.ContextDir = dir
		if f.file == "-" {
			o.Stdin = stdin // the Dockerfile comes from stdin, the files from dir
		} else if f.file != "" && !filepath.IsAbs(f.file) {
			// Docker resolves -f against the working directory, not the
			// context.
			abs, err := filepath.Abs(f.file)
			if err != nil {
				return o, err
			}
			o.Dockerfile = abs
		}
		if o.Dockerfile == "" {
			// Absolute, so that nothing below resolves it against the
			// working directory.
			o.Dockerfile = filepath.Join(dir, "Dockerfile")
		}
		if o.Dockerfile != "-" {
			if _, err := os.Stat(o.Dockerfile); err != nil {
				return o, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat %s: no such file or directory", o.Dockerfile)
			}
		}
	}
	switch f.network {
	case "", "default", "bridge", "host", "none":
	default:
		return o, fmt.Errorf("network mode %q not supported by the builder: use default, bridge, host or none", f.network)
	}
	return o, nil
}

// buildCmd is `docker build` with the classic builder's output: each
// instruction is a step, each step an image, and the cache reuses steps.
func (x *CLI) buildCmd() *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Example: `  minibox build -t hello .
  minibox build -t app:1.0 -t app:latest --build-arg VERSION=1 -f docker/Dockerfile .
  minibox build --target builder --no-cache .
  tar -c . | minibox build -t app -`,
		Args: exactArgs(1),
		RunE: x.withEngine(func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error {
			o, err := f.options(args[0], cmd.InOrStdin(), os.LookupEnv)
			if err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			o.Out = cmd.OutOrStdout()
			if o.Dockerfile == "-" {
				// -f - with a directory context: the Dockerfile comes from
				// stdin, kept in a temporary file for the build.
				path, cleanup, err := stdinDockerfile(o.Stdin)
				if err != nil {
					return &cli.ExitStatus{Code: 1, Err: err}
				}
				defer cleanup()
				o.Dockerfile, o.Stdin = path, nil
			}
			b := &build.Builder{Store: st, Exec: &Executor{Engine: e}}
			errw := cmd.ErrOrStderr()
			b.Pull = func(ctx context.Context, ref string) (*engine.Image, error) {
				out := o.Out
				if o.Quiet {
					out = errw
				}
				pl, err := x.puller(out, st)
				if err != nil {
					return nil, err
				}
				pl.Implicit = true
				return pl.Pull(ctx, ref)
			}
			ctx, cancel := interruptible()
			defer cancel()
			if _, err := b.Build(ctx, o); err != nil {
				code := 1
				var re *build.RunError
				if errors.As(err, &re) && re.Code > 0 {
					// Docker's CLI exits with the failed RUN's status (the
					// daemon's JSONError carries it).
					code = re.Code
				}
				// Docker's CLI prints a build's error as the builder sent
				// it, with no program name before it.
				fmt.Fprintln(errw, err)
				return &cli.ExitStatus{Code: code}
			}
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name and optionally a tag in the 'name:tag' format (repeatable)")
	fl.StringVarP(&f.file, "file", "f", "", "name of the Dockerfile (default: PATH/Dockerfile; - reads it from stdin)")
	fl.StringVar(&f.target, "target", "", "set the target build stage to build")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "set build-time variables: KEY=VALUE, or KEY to take it from the environment (repeatable)")
	fl.StringArrayVar(&f.labels, "label", nil, "set metadata for an image: KEY=VALUE (repeatable)")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use cache when building the image")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "suppress the build output and print image ID on success")
	fl.BoolVar(&f.pull, "pull", false, "always attempt to pull a newer version of the image")
	fl.StringVar(&f.network, "network", "default", "set the networking mode for the RUN instructions during build")
	return cmd
}

func stdinDockerfile(r io.Reader) (string, func(), error) {
	dir, err := os.MkdirTemp("", "minibox-dockerfile-")
	if err != nil {
		return "", nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	path := filepath.Join(dir, "Dockerfile")
	f, err := os.Create(path)
	if err == nil {
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("unable to read the Dockerfile from stdin: %w", err)
	}
	return path, cleanup, nil
}
