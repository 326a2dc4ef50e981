package commands

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/04-storage/storage"
)

// containerStorage is what the image commands need of the engine's
// storage beyond engine.Storage (containerfs has it all).
type containerStorage interface {
	Changes(c *engine.Container) ([]storage.Change, error)
	Commit(c *engine.Container, parent *engine.Image, opts images.CommitOptions) (*engine.Image, error)
	Export(c *engine.Container, w io.Writer) error
}

func imageStore(e *engine.Engine) (*images.Store, error) {
	s, ok := e.Options().Images.(*images.Store)
	if !ok {
		return nil, errors.New("this engine has no local image store")
	}
	return s, nil
}

func layerStorage(e *engine.Engine) (containerStorage, error) {
	s, ok := e.Options().Storage.(containerStorage)
	if !ok {
		return nil, errors.New("this engine's storage cannot diff, commit or export")
	}
	return s, nil
}

// containerLayers is the preamble of diff, commit and export: the
// engine's layer storage and the container ref names, with Docker's exit
// status 1 on failure.
func containerLayers(e *engine.Engine, ref string) (containerStorage, *engine.Info, error) {
	ls, err := layerStorage(e)
	if err != nil {
		return nil, nil, daemonErr(err, 1)
	}
	in, err := e.Inspect(ref)
	if err != nil {
		return nil, nil, daemonErr(err, 1)
	}
	return ls, in, nil
}

func shortImageID(id string) string {
	if len(id) > 7+12 {
		return id[7 : 7+12] // past "sha256:"
	}
	return id
}

// importCmd is `docker import FILE|- [REPOSITORY[:TAG]]`: a tar of a root
// file system becomes a one-layer image.
func (c *CLI) importCmd() *cobra.Command {
	var changes []string
	var message string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			st, err := imageStore(e)
			if err != nil {
				return daemonErr(err, 1)
			}
			var r io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("import: %w", err)}
				}
				defer f.Close()
				r = f
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			img, err := st.Import(r, ref, changes, message)
			if err != nil {
				return daemonErr(err, 1)
			}
			fmt.Fprintln(cmd.OutOrStdout(), img.ID)
			return nil
		}),
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "apply a Dockerfile instruction to the image (repeatable)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "set a commit message for the imported image")
	return cmd
}

// imagesCmd is `docker images`.
func (c *CLI) imagesCmd() *cobra.Command {
	var quiet, all bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "images [OPTIONS]",
		Short: "List images",
		Args:  cobra.NoArgs,
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			st, err := imageStore(e)
			if err != nil {
				return daemonErr(err, 1)
			}
			f, err := images.ParseFilter(filters)
			if err != nil {
				return cli.Fail(err)
			}
			every, err := st.List()
			if err != nil {
				return daemonErr(err, 1)
			}
			var list []images.Summary
			for _, im := range every {
				if f.Match(im) && (all || !im.Intermediate) {
					list = append(list, im)
				}
			}
			out := cmd.OutOrStdout()
			if quiet {
				for _, im := range list {
					fmt.Fprintln(out, shortImageID(im.ID.String()))
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
			for _, im := range list {
				tags := im.RepoTags
				if len(tags) == 0 {
					tags = []string{"<none>:<none>"}
				}
				for _, t := range tags {
					repo, tag := splitTag(t)
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\t%s\n", repo, tag, shortImageID(im.ID.String()),
						HumanDuration(time.Since(im.Created)), humanSize(im.Size))
				}
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	// Docker's -a adds the intermediate images: untagged parents of other
	// images (a commit's parent, a build's steps), hidden without it.
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show all images (default hides intermediate images)")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter output: dangling=true|false, reference=PATTERN, label=KEY[=VALUE]")
	return cmd
}

// splitTag cuts "repo:tag" at its last colon after the last slash.
func splitTag(s string) (string, string) {
	for i := len(s) - 1; i >= 0 && s[i] != '/'; i-- {
		if s[i] == ':' {
			return s[:i], s[i+1:]
		}
	}
	return s, "latest"
}

// TagCmd is `docker tag SOURCE TARGET`.
func (c *CLI) TagCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  cobra.ExactArgs(2),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			st, err := imageStore(e)
			if err != nil {
				return daemonErr(err, 1)
			}
			return daemonErr(st.Tag(args[0], args[1]), 1)
		}),
	}
}

// RmiCmd is `docker rmi` (use "rmi"), and `docker image rm` (use "rm"):
// it prints what it untagged and deleted.
func (c *CLI) RmiCmd(use string) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			st, err := imageStore(e)
			if err != nil {
				return daemonErr(err, 1)
			}
			var failed bool
			for _, ref := range args {
				lines, err := st.Remove(ref, force)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "Error response from daemon: %s\n", err)
					failed = true
					continue
				}
				for _, l := range lines {
					fmt.Fprintln(cmd.OutOrStdout(), l)
				}
			}
			if failed {
				return &cli.ExitStatus{Code: 1}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force removal of the image")
	return cmd
}

// diffCmd is `docker diff`: A added, C changed, D deleted.
func (c *CLI) diffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  cobra.ExactArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			ls, in, err := containerLayers(e, args[0])
			if err != nil {
				return err
			}
			chs, err := ls.Changes(in.Container)
			if err != nil {
				return daemonErr(err, 1)
			}
			for _, ch := range chs {
				fmt.Fprintln(cmd.OutOrStdout(), ch)
			}
			return nil
		}),
	}
}

// commitCmd is `docker commit CONTAINER [REPOSITORY[:TAG]]`: the new
// image's config is the container's (its command, environment, working
// directory, user, stop signal), under -c.
func (c *CLI) commitCmd() *cobra.Command {
	var o images.CommitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			ls, in, err := containerLayers(e, args[0])
			if err != nil {
				return err
			}
			parent, err := e.Options().Images.Resolve(in.Image)
			if err != nil {
				return daemonErr(err, 1)
			}
			if len(args) == 2 {
				o.Ref = args[1]
			}
			cc := in.Config
			o.Config = &imagespec.ImageConfig{
				User: cc.User, Env: cc.Env, Entrypoint: cc.Entrypoint, Cmd: cc.Cmd, WorkingDir: cc.WorkingDir,
				Labels: cc.Labels, StopSignal: cc.StopSignal, Volumes: cc.Volumes, ExposedPorts: cc.ExposedPorts,
			}
			img, err := ls.Commit(in.Container, parent, o)
			if err != nil {
				return daemonErr(err, 1)
			}
			fmt.Fprintln(cmd.OutOrStdout(), img.ID)
			return nil
		}),
	}
	cmd.Flags().StringVarP(&o.Message, "message", "m", "", "commit message")
	cmd.Flags().StringVarP(&o.Author, "author", "a", "", "author")
	cmd.Flags().StringArrayVarP(&o.Changes, "change", "c", nil, "apply a Dockerfile instruction to the image (repeatable)")
	return cmd
}

// exportCmd is `docker export`: the container's whole file system as a tar.
func (c *CLI) exportCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			ls, in, err := containerLayers(e, args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("export: %w", err)}
				}
				defer f.Close()
				w = f
			}
			return daemonErr(ls.Export(in.Container, w), 1)
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}
