package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/engine"
	"minibox/07-compose/model"
)

func (s *session) psCmd() *cobra.Command {
	var o struct {
		format, filter       string
		status               []string
		all, quiet, services bool
		noTrunc, orphans     bool
	}
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS] [SERVICE...]",
		Short: "List containers",
		RunE: run(func(cmd *cobra.Command, args []string) error {
			if o.filter != "" {
				st, err := parsePsFilter(o.filter)
				if err != nil {
					return err
				}
				o.status = append(o.status, st)
			}
			kind, body, err := parseFormat(o.format)
			if err != nil {
				return err
			}
			p, name, err := s.projectOrName(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			services := args
			if p != nil && len(services) == 0 && !o.orphans {
				for _, sv := range p.Services {
					services = append(services, sv.Name)
				}
			}
			list, err := s.containers(selection{Project: name, Services: services, All: o.all || len(o.status) > 0, Oneoff: true})
			if err != nil {
				return err
			}
			if len(o.status) > 0 {
				var kept []*engine.Info
				for _, in := range list {
					if contains(o.status, stateOf(in.State)) {
						kept = append(kept, in)
					}
				}
				list = kept
			}
			sort.SliceStable(list, func(i, j int) bool { return list[i].Name < list[j].Name })
			rows := make([]psRow, len(list))
			now := time.Now()
			for i, in := range list {
				rows[i] = newPsRow(in, !o.noTrunc, now)
			}
			w := cmd.OutOrStdout()
			switch {
			case o.quiet:
				for _, r := range rows {
					fmt.Fprintln(w, r.ID())
				}
				return nil
			case o.services:
				var seen []string
				for _, r := range rows {
					if !contains(seen, r.Service()) {
						seen = append(seen, r.Service())
						fmt.Fprintln(w, r.Service())
					}
				}
				return nil
			}
			return printRows(w, kind, body, rows)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "table", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	f.StringVar(&o.filter, "filter", "", "Filter services by a property (supported filters: status)")
	f.StringArrayVar(&o.status, "status", nil, "Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display IDs")
	f.BoolVar(&o.services, "services", false, "Display services")
	f.BoolVar(&o.orphans, "orphans", true, "Include orphaned services (not declared by project)")
	f.BoolVarP(&o.all, "all", "a", false, "Show all stopped containers (including those created by the run command)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	return cmd
}

// parsePsFilter is ps --filter KEY=VALUE: compose knows only status.
func parsePsFilter(s string) (string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", fmt.Errorf("arguments to --filter should be in form KEY=VAL")
	}
	if k != "status" {
		return "", fmt.Errorf("unknown filter %s", k)
	}
	return v, nil
}

// stateOf is a container's State as the API lists it (ps's {{.State}}).
func stateOf(st engine.State) string {
	switch {
	case st.Restarting:
		return "restarting"
	case st.Running && st.Paused:
		return "paused"
	case st.Running:
		return "running"
	case st.Status == "":
		return "created"
	}
	return st.Status
}

// Format kinds of --format.
const (
	formatTable    = "table"
	formatJSON     = "json"
	formatTemplate = "template"
)

// defaultPsTable is compose's ps table.
const defaultPsTable = "{{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}"

// psHeaders are the column titles of compose ps's fields.
var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Name": "NAME", "Names": "NAMES", "Project": "PROJECT", "Service": "SERVICE",
	"Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT", "RunningFor": "CREATED",
	"Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS",
	"Health": "HEALTH", "ExitCode": "EXIT CODE", "Mounts": "MOUNTS", "Networks": "NETWORKS",
	"LocalVolumes": "LOCAL VOLUMES", "Publishers": "PUBLISHERS",
}

// parseFormat reads --format as docker's formatter does: "" or "table"
// (the default table), "table TEMPLATE" (a table of the template's
// fields, headers from their names), "json" (one object per line), else a
// Go template printed once per container. The template is checked here,
// so that a bad one fails before anything runs.
func parseFormat(s string) (kind, body string, err error) {
	switch t := strings.TrimSpace(s); {
	case t == "" || t == "table":
		return formatTable, defaultPsTable, nil
	case t == "json":
		return formatJSON, "", nil
	case strings.HasPrefix(t, "table ") || strings.HasPrefix(t, "table\t"):
		kind, body = formatTable, strings.TrimSpace(t[len("table"):])
	default:
		kind, body = formatTemplate, s
	}
	body = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(body)
	if _, err := template.New("ps").Funcs(templateFuncs).Parse(body); err != nil {
		return "", "", fmt.Errorf("template parsing error: %w", err)
	}
	return kind, body, nil
}

var fieldRe = regexp.MustCompile(`\{\{\s*\.(\w+)[^}]*\}\}`)

// printRows prints rows as parseFormat's kind and body say.
func printRows(w io.Writer, kind, body string, rows []psRow) error {
	if kind == formatJSON {
		for _, r := range rows {
			data, err := json.Marshal(r.jsonMap())
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\n", data)
		}
		return nil
	}
	tmpl, err := template.New("ps").Funcs(templateFuncs).Parse(body)
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	out := w
	var tw *tabwriter.Writer
	if kind == formatTable {
		// docker's formatter: minwidth 10, padding 3.
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
		header := fieldRe.ReplaceAllStringFunc(body, func(m string) string {
			name := fieldRe.FindStringSubmatch(m)[1]
			if h, ok := psHeaders[name]; ok {
				return h
			}
			return strings.ToUpper(name)
		})
		fmt.Fprintln(out, header)
	}
	for _, r := range rows {
		if err := tmpl.Execute(out, r); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		fmt.Fprintln(out)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// templateFuncs are docker's template functions.
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
	"upper": strings.ToUpper, "lower": strings.ToLower,
	"split": strings.Split, "join": strings.Join,
	"truncate": func(s string, n int) string {
		if n >= 0 && len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad": func(s string, l, r int) string {
		return strings.Repeat(" ", max(l, 0)) + s + strings.Repeat(" ", max(r, 0))
	},
}

// Publisher is one published port as compose's ps --format json shows it.
type Publisher struct {
	URL           string
	TargetPort    int
	PublishedPort int
	Protocol      string
}

// psRow is one container as compose ps's templates see it: its methods
// are compose's field names ({{.Name}}, {{.Service}}, {{.Status}} ...).
type psRow struct {
	in    *engine.Info
	trunc bool
	now   time.Time
}

func newPsRow(in *engine.Info, trunc bool, now time.Time) psRow {
	return psRow{in: in, trunc: trunc, now: now}
}

func (r psRow) ID() string {
	if r.trunc && len(r.in.ID) > 12 {
		return r.in.ID[:12]
	}
	return r.in.ID
}
func (r psRow) Name() string    { return r.in.Name }
func (r psRow) Names() string   { return r.in.Name }
func (r psRow) Service() string { return r.in.Config.Labels[model.LabelService] }
func (r psRow) Project() string { return r.in.Config.Labels[model.LabelProject] }
func (r psRow) Image() string   { return r.in.Config.Image }

// Command is the container's path and arguments, joined by spaces (not
// re-quoted), cut to 20 characters with an ellipsis, then quoted.
func (r psRow) Command() string {
	c := strings.Join(append([]string{r.in.Path}, r.in.Args...), " ")
	if runes := []rune(c); r.trunc && len(runes) > 20 {
		c = string(runes[:19]) + "…"
	}
	return strconv.Quote(c)
}
func (r psRow) CreatedAt() string {
	return r.in.Created.Local().Format("2006-01-02 15:04:05 -0700 MST")
}
func (r psRow) RunningFor() string { return lesson04.HumanDuration(r.now.Sub(r.in.Created)) + " ago" }
func (r psRow) State() string      { return stateOf(r.in.State) }
func (r psRow) ExitCode() int      { return r.in.State.ExitCode }

// Status is docker's STATUS ("Up 5 seconds (healthy)", "Exited (0) 3
// seconds ago").
func (r psRow) Status() string { return statusWithHealth(r.in.State, r.now) }

// Health is the healthcheck's status, "" without one.
func (r psRow) Health() string {
	if h := r.in.State.Health; h != nil && r.in.State.Running {
		return h.Status
	}
	return ""
}

// statusWithHealth is lesson 04's Status with docker's health suffix,
// unless the engine's own Status already says it.
func statusWithHealth(st engine.State, now time.Time) string {
	s := lesson04.Status(st, now)
	if st.Health == nil || !st.Running || st.Restarting || strings.Contains(s, "health") {
		return s
	}
	switch st.Health.Status {
	case "starting":
		return s + " (health: starting)"
	case "healthy", "unhealthy":
		return s + " (" + st.Health.Status + ")"
	}
	return s
}

// Publishers are the container's published ports (none once it stopped),
// sorted by target port.
func (r psRow) Publishers() []Publisher {
	out := []Publisher{}
	if !r.in.State.Running {
		return out
	}
	for key, bs := range r.in.NetworkSettings.Ports {
		port, proto, _ := strings.Cut(key, "/")
		if proto == "" {
			proto = "tcp"
		}
		target, _ := strconv.Atoi(port)
		for _, b := range bs {
			pub, _ := strconv.Atoi(b.HostPort)
			out = append(out, Publisher{URL: b.HostIP, TargetPort: target, PublishedPort: pub, Protocol: proto})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.TargetPort != b.TargetPort {
			return a.TargetPort < b.TargetPort
		}
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		return a.URL < b.URL
	})
	return out
}

// Ports is docker's PORTS column ("0.0.0.0:8080->80/tcp").
func (r psRow) Ports() string {
	if lesson04.Extend.Ports != nil && r.in.State.Running {
		return lesson04.Extend.Ports(r.in.Container)
	}
	var parts []string
	for _, p := range r.Publishers() {
		parts = append(parts, fmt.Sprintf("%s:%d->%d/%s", p.URL, p.PublishedPort, p.TargetPort, p.Protocol))
	}
	return strings.Join(parts, ", ")
}

// Labels are the container's labels, KEY=VALUE sorted and comma-joined.
func (r psRow) Labels() string {
	var l []string
	for k, v := range r.in.Config.Labels {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}

// Label is {{.Label "key"}}.
func (r psRow) Label(k string) string { return r.in.Config.Labels[k] }

func (r psRow) Mounts() string {
	var m []string
	for _, mp := range r.in.Mounts {
		n := mp.Name
		if n == "" {
			n = mp.Source
		}
		if r.trunc {
			if runes := []rune(n); len(runes) > 15 {
				n = string(runes[:14]) + "…"
			}
		}
		m = append(m, n)
	}
	return strings.Join(m, ",")
}

func (r psRow) LocalVolumes() string {
	n := 0
	for _, mp := range r.in.Mounts {
		if mp.Type == "volume" {
			n++
		}
	}
	return strconv.Itoa(n)
}

func (r psRow) Networks() string {
	var n []string
	for k := range r.in.NetworkSettings.Networks {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ",")
}

// Size is not measured by compose ps (no --size): docker prints 0B.
func (r psRow) Size() string { return "0B" }

// jsonMap is ps --format json's object: compose's field names.
func (r psRow) jsonMap() map[string]any {
	return map[string]any{
		"ID": r.ID(), "Name": r.Name(), "Names": r.Names(), "Service": r.Service(), "Project": r.Project(),
		"Image": r.Image(), "Command": r.Command(), "CreatedAt": r.CreatedAt(), "RunningFor": r.RunningFor(),
		"ExitCode": r.ExitCode(), "State": r.State(), "Status": r.Status(), "Health": r.Health(),
		"Publishers": r.Publishers(), "Ports": r.Ports(), "Labels": r.Labels(), "Mounts": r.Mounts(),
		"LocalVolumes": r.LocalVolumes(), "Networks": r.Networks(), "Size": r.Size(),
	}
}
