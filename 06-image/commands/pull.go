package commands

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"minibox/01-namespaces/cli"
	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/engine"
	"minibox/04-storage/images"
)

// pullExt is what lesson 06 adds to run and create: --pull, and the pull
// of an image that is not here. It wraps the earlier lesson's extension
// (05's network flags), which keeps its flags and checks.
type pullExt struct {
	cli    *CLI
	inner  lesson04.CreateExtension
	policy string
	quiet  bool
	stderr io.Writer // for tests; nil: os.Stderr
}

func (p *pullExt) AddFlags(fs *pflag.FlagSet, network *string) {
	if p.inner != nil {
		p.inner.AddFlags(fs, network)
	} else {
		fs.StringVar(network, "network", "none", "connect the container to a network: none or host")
	}
	fs.StringVar(&p.policy, "pull", PullMissing, `pull image before running ("always", "missing", "never")`)
	fs.BoolVarP(&p.quiet, "quiet", "q", false, "suppress the pull output")
}

// Apply checks --pull and the inner flags, then makes sure the image is
// here as the policy says. This runs before the engine creates anything,
// so a failed pull leaves no container. Docker's CLI does the same in this
// order: create, and on "No such image" print "Unable to find image 'X'
// locally", pull, and create again.
func (p *pullExt) Apply(req *engine.CreateRequest) error {
	policy, err := parsePullPolicy(p.policy)
	if err != nil {
		return err
	}
	if p.inner != nil {
		if err := p.inner.Apply(req); err != nil {
			return err
		}
	}
	ref := req.Config.Image
	if ref == "" {
		return nil
	}
	_, st, err := p.cli.engine()
	if err != nil {
		return err
	}
	_, rerr := st.Resolve(ref)
	switch {
	case rerr == nil && policy != PullAlways:
		return nil
	case rerr != nil && !errors.Is(rerr, engine.ErrImageNotFound):
		return &cli.ExitStatus{Code: 125, Err: fmt.Errorf("Error response from daemon: %s", rerr)}
	case rerr != nil && policy == PullNever:
		return &cli.ExitStatus{Code: 125, Err: fmt.Errorf("Error response from daemon: No such image: %s", familiar(ref))}
	}
	r, perr := images.ParseReference(ref)
	if perr != nil || isImageID(ref) {
		// An ID or a short ID cannot be pulled: Docker says the image is
		// not here.
		return &cli.ExitStatus{Code: 125, Err: fmt.Errorf("Error response from daemon: No such image: %s", ref)}
	}
	errw := p.stderr
	if errw == nil {
		errw = os.Stderr
	}
	if rerr != nil && !p.quiet {
		fmt.Fprintf(errw, "Unable to find image '%s' locally\n", r.FamiliarString())
	}
	out := errw
	if p.quiet {
		out = io.Discard
	}
	pl, err := p.cli.puller(out, st)
	if err != nil {
		return fail(err)
	}
	pl.Implicit = true
	ctx, cancel := interruptible()
	defer cancel()
	if _, err := pl.Pull(ctx, ref); err != nil {
		return &cli.ExitStatus{Code: 125, Err: fmt.Errorf("Error response from daemon: %s", err)}
	}
	return nil
}

// familiar is ref as Docker names it in messages: busybox:latest.
func familiar(ref string) string {
	if isImageID(ref) {
		return ref
	}
	r, err := images.ParseReference(ref)
	if err != nil {
		return ref
	}
	return r.FamiliarString()
}

// isImageID tells a (short) image ID from a name: Docker's rule is 64 hex
// digits, with or without sha256:, and a name that is only hex digits
// names an image only if such an ID exists (the store's Resolve tries).
func isImageID(ref string) bool {
	s := ref
	if len(s) > 7 && s[:7] == "sha256:" {
		return true
	}
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// fail is minibox's own failure (status 125), unless err has a status.
func fail(err error) error {
	var es *cli.ExitStatus
	if errors.As(err, &es) {
		return err
	}
	return cli.Fail(err)
}
