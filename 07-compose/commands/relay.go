package commands

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"minibox/01-namespaces/cli"
	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/07-compose/model"
)

func (s *session) execCmd() *cobra.Command {
	var o struct {
		detach, noTTY, privileged, interactive bool
		env                                    []string
		user, workdir                          string
		index                                  int
	}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] SERVICE COMMAND [ARGS...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			p, name, err := s.projectOrName(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := checkServices(p, args[:1]); err != nil {
				return err
			}
			in, err := s.serviceContainer(name, args[0], o.index)
			if err != nil {
				return err
			}
			e, err := s.engine()
			if err != nil {
				return err
			}
			// compose allocates a TTY when its output is a terminal; -T
			// says not to.
			tty := !o.noTTY && isTerminal(os.Stdout) && isTerminal(os.Stdin)
			eo := engine.ExecOptions{Args: args[1:], Env: o.env, User: o.user, Workdir: o.workdir,
				Tty: tty, Interactive: o.interactive && !o.detach, Detach: o.detach,
				Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
			if tty {
				eo.Console = func(master *os.File) { lesson04.RelayConsole(master, eo.Interactive) }
			}
			code, err := e.Exec(in.ID, eo)
			if err != nil {
				var se *engine.StartError
				if errors.As(err, &se) {
					return &cli.ExitStatus{Code: se.Code, Err: err}
				}
				return err
			}
			if code != 0 {
				return cli.Status(code)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: Run command in the background")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to the process")
	f.StringVarP(&o.user, "user", "u", "", "Run the command as this user")
	f.BoolVarP(&o.noTTY, "no-tty", "T", false, "Disable pseudo-TTY allocation. By default 'compose exec' allocates a TTY")
	f.IntVar(&o.index, "index", 0, "Index of the container if service has multiple replicas")
	f.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	f.BoolVarP(&o.interactive, "interactive", "i", true, "Keep STDIN open even if not attached")
	f.MarkHidden("interactive")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Path to workdir directory for this command")
	return cmd
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func (s *session) topCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "top [SERVICES...]",
		Short: "Display the running processes",
		RunE: run(func(cmd *cobra.Command, args []string) error {
			p, name, err := s.projectOrName(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			list, err := s.containers(selection{Project: name, Services: args})
			if err != nil {
				return err
			}
			e, err := s.engine()
			if err != nil {
				return err
			}
			var rows []topRow
			for _, in := range list {
				pids, err := e.Top(in.ID)
				if err != nil {
					continue // stopped meanwhile
				}
				for _, pid := range pids {
					uid, ppid, argv := lesson04.ProcInfo(pid)
					rows = append(rows, topRow{Service: in.Config.Labels[model.LabelService],
						Number: in.Config.Labels[model.LabelNumber], UID: uid, PID: pid, PPID: ppid, CMD: argv})
				}
			}
			return printTop(cmd.OutOrStdout(), rows)
		}),
	}
}

// topRow is one process of compose top.
type topRow struct {
	Service, Number string
	UID             string
	PID, PPID       int
	CMD             string
}

// printTop is compose top's table: SERVICE and the replica's number, then
// the process's columns, CMD last; nothing at all without processes.
func printTop(w io.Writer, rows []topRow) error {
	if len(rows) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 4, 1, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\t#\tUID\tPID\tPPID\tCMD")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", r.Service, r.Number, r.UID, r.PID, r.PPID, r.CMD)
	}
	return tw.Flush()
}

func (s *session) portCmd() *cobra.Command {
	var protocol string
	var index int
	cmd := &cobra.Command{
		Use:   "port [OPTIONS] SERVICE PRIVATE_PORT",
		Short: "Print the public port for a port binding",
		Args:  cobra.MinimumNArgs(2),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			port, err := strconv.ParseUint(args[1], 10, 16)
			if err != nil {
				return err
			}
			protocol = strings.ToLower(protocol)
			p, name, err := s.projectOrName(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := checkServices(p, args[:1]); err != nil {
				return err
			}
			in, err := s.serviceContainer(name, args[0], index)
			if err != nil {
				return err
			}
			hostPort, err := publishedPort(newPsRow(in, true, timeZero).Publishers(), in.Name, int(port), protocol)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), hostPort)
			return nil
		}),
	}
	cmd.Flags().StringVar(&protocol, "protocol", "tcp", "tcp or udp")
	cmd.Flags().IntVar(&index, "index", 0, "Index of the container if service has multiple replicas")
	return cmd
}

// publishedPort is compose port's answer, "IP:PORT" of the first binding
// of the container's port, or compose's error listing the ports it has.
func publishedPort(pubs []Publisher, name string, port int, protocol string) (string, error) {
	var have []string
	for _, p := range pubs {
		if p.TargetPort == port && p.Protocol == protocol {
			return fmt.Sprintf("%s:%d", p.URL, p.PublishedPort), nil
		}
		have = append(have, fmt.Sprintf("%d/%s", p.TargetPort, p.Protocol))
	}
	return "", fmt.Errorf("no port %d/%s for container %s: %s", port, protocol, name, strings.Join(have, ", "))
}

func (s *session) imagesCmd() *cobra.Command {
	var quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [SERVICE...]",
		Short: "List images used by the created containers",
		RunE: run(func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("format value %q could not be parsed: use table or json", format)
			}
			p, name, err := s.projectOrName(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			list, err := s.containers(selection{Project: name, Services: args, All: true})
			if err != nil {
				return err
			}
			e, err := s.engine()
			if err != nil {
				return err
			}
			st, _ := e.Options().Images.(*images.Store)
			rows := imageRows(list, st)
			return printImages(cmd.OutOrStdout(), rows, quiet, format)
		}),
	}
	cmd.Flags().StringVar(&format, "format", "table", "Format the output. Values: [table | json]")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display IDs")
	return cmd
}

// imageRow is one container's image in compose images.
type imageRow struct {
	Container, Repository, Tag, Platform, ID string
	Size                                     int64
	Created                                  string
}

// splitRef is a reference's repository and tag (latest when none; a
// port's colon is not a tag's).
func splitRef(ref string) (repo, tag string) {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

func imageRows(list []*engine.Info, st *images.Store) []imageRow {
	byID := map[string]images.Summary{}
	if st != nil {
		if sums, err := st.List(); err == nil {
			for _, s := range sums {
				byID[s.ID.String()] = s
			}
		}
	}
	var rows []imageRow
	for _, in := range list {
		repo, tag := splitRef(in.Config.Image)
		r := imageRow{Container: in.Name, Repository: repo, Tag: tag, ID: strings.TrimPrefix(in.Image, "sha256:"), Created: "N/A"}
		if sum, ok := byID[in.Image]; ok {
			r.Size = sum.Size
			if !sum.Created.IsZero() {
				r.Created = humanAgo(sum.Created)
			}
		}
		if st != nil {
			if img, err := st.Resolve(in.Image); err == nil {
				r.Platform = img.Config.OS + "/" + img.Config.Architecture
			}
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Container < rows[j].Container })
	return rows
}

// printImages is compose images' table (or its JSON, or -q's IDs, each once).
func printImages(w io.Writer, rows []imageRow, quiet bool, format string) error {
	if quiet {
		var seen []string
		for _, r := range rows {
			if !contains(seen, r.ID) {
				seen = append(seen, r.ID)
				fmt.Fprintln(w, r.ID)
			}
		}
		return nil
	}
	if format == "json" {
		type img struct {
			ID, ContainerName, Repository, Tag, Platform string
			Size                                         int64
		}
		out := []img{}
		for _, r := range rows {
			out = append(out, img{ID: "sha256:" + r.ID, ContainerName: r.Container, Repository: r.Repository, Tag: r.Tag, Platform: r.Platform, Size: r.Size})
		}
		return printJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tREPOSITORY\tTAG\tPLATFORM\tIMAGE ID\tSIZE\tCREATED")
	for _, r := range rows {
		id := r.ID
		if len(id) > 12 {
			id = id[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Container, r.Repository, r.Tag, r.Platform, id, humanSize(r.Size), r.Created)
	}
	return tw.Flush()
}
