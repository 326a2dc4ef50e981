package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/06-image/image"
)

// imageRow is one line of `images`, with the fields --format names.
type imageRow struct {
	Repository, Tag, Digest, ID string
	CreatedSince, CreatedAt     string
	Size                        string
}

// imagesCmd is `docker images`: REPOSITORY TAG [DIGEST] IMAGE ID CREATED
// SIZE. Without -a the intermediate images of builds (untagged images that
// are another's parent) are hidden, as Docker's classic builder's are.
func (x *CLI) imagesCmd() *cobra.Command {
	var quiet, all, digests, noTrunc bool
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: x.withEngine(func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error {
			if len(args) == 1 {
				filters = append(filters, "reference="+args[0])
			}
			f, err := images.ParseFilter(filters)
			if err != nil {
				return cli.Fail(err)
			}
			every, err := st.List()
			if err != nil {
				return lesson04.DaemonErr(err, 1)
			}
			var list []images.Summary
			for _, im := range every {
				if !all && im.Intermediate {
					continue // a build step's image, the parent of another
				}
				if f.Match(im) {
					list = append(list, im)
				}
			}
			return printImages(cmd.OutOrStdout(), list, quiet, digests, !noTrunc, format, time.Now())
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	fl.BoolVarP(&all, "all", "a", false, "show all images (default hides intermediate images)")
	fl.BoolVar(&digests, "digests", false, "show digests")
	fl.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "filter output: dangling=true|false, reference=PATTERN, label=KEY[=VALUE]")
	fl.StringVar(&format, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template")
	return cmd
}

const imagesTable = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

var imageHeaders = map[string]string{
	"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
}

// imageRows are the lines of one image: one per tag; an untagged image
// that was pulled by digest shows its digests, with <none> as the tag.
func imageRows(im images.Summary, trunc bool, now time.Time) []imageRow {
	id := im.ID.String()
	if trunc {
		id = shortID(id)
	}
	base := imageRow{ID: id, CreatedSince: lesson04.HumanDuration(now.Sub(im.Created)) + " ago",
		CreatedAt: im.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), Size: humanSize(im.Size)}
	digestOf := func(repo string) string {
		for _, rd := range im.RepoDigests {
			if r, d, ok := strings.Cut(rd, "@"); ok && r == repo {
				return d
			}
		}
		return "<none>"
	}
	var rows []imageRow
	for _, t := range im.RepoTags {
		r := base
		r.Repository, r.Tag = splitTag(t)
		r.Digest = digestOf(r.Repository)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		for _, rd := range im.RepoDigests {
			r := base
			repo, d, _ := strings.Cut(rd, "@")
			r.Repository, r.Tag, r.Digest = repo, "<none>", d
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		r := base
		r.Repository, r.Tag, r.Digest = "<none>", "<none>", "<none>"
		rows = append(rows, r)
	}
	return rows
}

func printImages(w io.Writer, list []images.Summary, quiet, digests, trunc bool, format string, now time.Time) error {
	if quiet {
		seen := map[digest.Digest]bool{}
		for _, im := range list {
			if !seen[im.ID] {
				seen[im.ID] = true
				id := im.ID.String()
				if trunc {
					id = shortID(id)
				}
				fmt.Fprintln(w, id)
			}
		}
		return nil
	}
	switch {
	case format == "" || format == "table":
		format = imagesTable
		if digests {
			format = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		}
	case format == "json":
		for _, im := range list {
			for _, r := range imageRows(im, trunc, now) {
				data, _ := json.Marshal(r)
				fmt.Fprintf(w, "%s\n", data)
			}
		}
		return nil
	}
	tmpl, table, header, err := parseTemplate(format, imageHeaders)
	if err != nil {
		return cli.Fail(err)
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
		out = tw
		fmt.Fprintln(out, header)
	}
	for _, im := range list {
		for _, r := range imageRows(im, trunc, now) {
			if err := tmpl.Execute(out, r); err != nil {
				return cli.Fail(fmt.Errorf("template: %w", err))
			}
			fmt.Fprintln(out)
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// parseTemplate is Docker's --format: "table " + a template gets a header
// row of the fields' names (headers), \t and \n are escapes.
func parseTemplate(format string, headers map[string]string) (tmpl *template.Template, table bool, header string, err error) {
	table = strings.HasPrefix(format, "table")
	body := format
	if table {
		body = strings.TrimSpace(strings.TrimPrefix(format, "table"))
	}
	body = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(body)
	tmpl, err = template.New("format").Funcs(templateFuncs).Parse(body)
	if err != nil {
		return nil, false, "", fmt.Errorf("template parsing error: %w", err)
	}
	header = fieldRe.ReplaceAllStringFunc(body, func(m string) string {
		name := fieldRe.FindStringSubmatch(m)[1]
		if h, ok := headers[name]; ok {
			return h
		}
		return strings.ToUpper(name)
	})
	return tmpl, table, header, nil
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

func shortID(id string) string {
	s := strings.TrimPrefix(id, "sha256:")
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// humanSize is Docker's decimal sizes: 0B, 12.3kB, 4.26MB.
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return strconv.FormatFloat(f, 'g', 3, 64) + units[i]
}

// historyCmd is `docker history`: the image's steps, newest first.
func (x *CLI) historyCmd() *cobra.Command {
	var noTrunc, quiet, human bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: x.withEngine(func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error {
			lines, err := image.History(st, args[0])
			if err != nil {
				return noSuchImage(err, args[0])
			}
			return printHistory(cmd.OutOrStdout(), lines, quiet, !noTrunc, human, format, time.Now())
		}),
	}
	fl := cmd.Flags()
	fl.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	fl.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	fl.BoolVarP(&human, "human", "H", true, "print sizes and dates in human readable format")
	fl.StringVar(&format, "format", "", "format output using a Go template")
	return cmd
}

type historyRow struct {
	ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment string
}

var historyHeaders = map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}

func printHistory(w io.Writer, lines []image.HistoryLine, quiet, trunc, human bool, format string, now time.Time) error {
	rows := make([]historyRow, 0, len(lines))
	for _, l := range lines {
		r := historyRow{ID: l.ID, CreatedBy: l.CreatedBy, Comment: l.Comment}
		if trunc && r.ID != "<missing>" {
			r.ID = shortID(r.ID)
		}
		// Docker's history turns tabs into spaces and keeps the rest
		// ("#(nop)  CMD" has two).
		r.CreatedBy = strings.ReplaceAll(r.CreatedBy, "\t", " ")
		if trunc {
			r.CreatedBy = ellipsis(r.CreatedBy, 45)
		}
		if human {
			r.CreatedSince = lesson04.HumanDuration(now.Sub(l.Created)) + " ago"
			r.Size = humanSize(l.Size)
		} else {
			r.CreatedSince = l.Created.Format(time.RFC3339)
			r.Size = strconv.FormatInt(l.Size, 10)
		}
		r.CreatedAt = l.Created.Format(time.RFC3339)
		rows = append(rows, r)
	}
	if quiet {
		for _, r := range rows {
			fmt.Fprintln(w, r.ID)
		}
		return nil
	}
	if format == "" || format == "table" {
		format = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	}
	tmpl, table, header, err := parseTemplate(format, historyHeaders)
	if err != nil {
		return cli.Fail(err)
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
		out = tw
		fmt.Fprintln(out, header)
	}
	for _, r := range rows {
		if err := tmpl.Execute(out, r); err != nil {
			return cli.Fail(fmt.Errorf("template: %w", err))
		}
		fmt.Fprintln(out)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// ellipsis cuts s to n runes, the last one "…" (Docker's stringutils).
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// noSuchImage is Docker's "Error: No such image: X" (status 1).
func noSuchImage(err error, ref string) error {
	if isNotFound(err) {
		return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("Error response from daemon: No such image: %s", familiar(ref))}
	}
	return lesson04.DaemonErr(err, 1)
}

func isNotFound(err error) bool { return err != nil && errorsIs(err, engine.ErrImageNotFound) }

// inspectCmd is `docker image inspect`: a JSON array, or -f's template
// for each image.
func (x *CLI) inspectCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  minArgs(1),
		RunE: x.withEngine(func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error {
			var all []any
			var failed []string
			for _, ref := range args {
				in, err := image.Inspect(st, ref)
				if err != nil {
					if !isNotFound(err) {
						return lesson04.DaemonErr(err, 1)
					}
					failed = append(failed, ref)
					continue
				}
				all = append(all, in)
			}
			out := cmd.OutOrStdout()
			if format != "" {
				tmpl, err := template.New("inspect").Funcs(templateFuncs).Parse(format)
				if err != nil {
					return cli.Fail(fmt.Errorf("template parsing error: %w", err))
				}
				for _, v := range all {
					// The template sees the JSON's shape (Docker's field names).
					var m any
					data, _ := json.Marshal(v)
					_ = json.Unmarshal(data, &m)
					if err := tmpl.Execute(out, m); err != nil {
						return cli.Fail(fmt.Errorf("template: %w", err))
					}
					fmt.Fprintln(out)
				}
			} else {
				if all == nil {
					all = []any{}
				}
				data, err := json.MarshalIndent(all, "", "    ")
				if err != nil {
					return cli.Fail(err)
				}
				fmt.Fprintf(out, "%s\n", data)
			}
			if len(failed) > 0 {
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("Error: No such image: %s", strings.Join(failed, ", "))}
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a Go template")
	return cmd
}

// saveCmd is `docker save`: a docker-archive of the images (manifest.json
// and repositories, the OCI layout inside) to -o or stdout.
func (x *CLI) saveCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  minArgs(1),
		RunE: x.withEngine(func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error {
			for _, ref := range args {
				if _, err := st.Resolve(ref); err != nil {
					return noSuchImage(err, ref)
				}
			}
			w := cmd.OutOrStdout()
			if output == "" {
				if isTTY(w) {
					return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")}
				}
				return lesson04.DaemonErr(image.Save(st, w, args), 1)
			}
			// Written beside the target and renamed: a failed save leaves
			// no half archive under the name.
			tmp, err := os.CreateTemp(dirOf(output), ".save-")
			if err != nil {
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("failed to save image: %w", err)}
			}
			defer os.Remove(tmp.Name())
			if err := image.Save(st, tmp, args); err != nil {
				tmp.Close()
				return lesson04.DaemonErr(err, 1)
			}
			if err := tmp.Close(); err != nil {
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("failed to save image: %w", err)}
			}
			if err := os.Chmod(tmp.Name(), 0o644); err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			if err := os.Rename(tmp.Name(), output); err != nil {
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("failed to save image: %w", err)}
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		if i == 0 {
			return "/"
		}
		return p[:i]
	}
	return "."
}

// loadCmd is `docker load`: a docker-archive (legacy or Docker 25's) or an
// OCI layout tar, plain or compressed, from -i or stdin.
func (x *CLI) loadCmd() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  noArgs,
		RunE: x.withEngine(func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error {
			var r io.Reader = cmd.InOrStdin()
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("open %s: %w", input, err)}
				}
				defer f.Close()
				r = f
			} else if f, ok := r.(*os.File); ok && isTTY(f) {
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("requested load from stdin, but stdin is empty")}
			}
			out := cmd.OutOrStdout()
			if quiet {
				out = io.Discard
			}
			if _, err := image.Load(st, r, out); err != nil {
				return lesson04.DaemonErr(err, 1)
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}

// imageCmd is the `image` group: Docker's management commands for images.
func (x *CLI) imageCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage images"}
	ls := x.imagesCmd()
	ls.Use, ls.Aliases = "ls [OPTIONS] [REPOSITORY[:TAG]]", []string{"list"}
	cmd.AddCommand(ls, x.c.RmiCmd("rm"), x.c.TagCmd(), x.historyCmd(), x.inspectCmd(), x.saveCmd(), x.loadCmd(),
		x.pullCmd(), x.pushCmd(), x.buildCmd(), x.imagePruneCmd())
	return cmd
}

// imagePruneCmd is `docker image prune`: dangling images, or with -a every
// image no container uses.
func (x *CLI) imagePruneCmd() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  noArgs,
		RunE: x.withEngine(func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error {
			_ = force // minibox never prompts
			lines, freed, err := image.Prune(st, all)
			out := cmd.OutOrStdout()
			if len(lines) > 0 {
				fmt.Fprintln(out, "Deleted Images:")
				for _, l := range lines {
					k, v, _ := strings.Cut(l, ": ")
					fmt.Fprintln(out, strings.ToLower(k)+": "+v)
				}
				fmt.Fprintln(out)
			}
			if err != nil {
				return lesson04.DaemonErr(err, 1)
			}
			fmt.Fprintf(out, "Total reclaimed space: %s\n", humanSize(freed))
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}
