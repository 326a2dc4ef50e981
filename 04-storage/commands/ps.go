package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/engine"
	"minibox/04-storage/storage"
)

// HumanDuration is Docker's wording of a duration (go-units'
// HumanDuration): "Less than a second", "3 seconds", "About a minute".
func HumanDuration(d time.Duration) string {
	if s := int(d.Seconds()); s < 1 {
		return "Less than a second"
	} else if s == 1 {
		return "1 second"
	} else if s < 60 {
		return fmt.Sprintf("%d seconds", s)
	} else if m := int(d.Minutes()); m == 1 {
		return "About a minute"
	} else if m < 60 {
		return fmt.Sprintf("%d minutes", m)
	} else if h := int(d.Round(time.Hour).Hours()); h == 1 {
		return "About an hour"
	} else if h < 48 {
		return fmt.Sprintf("%d hours", h)
	} else if h < 24*7*2 {
		return fmt.Sprintf("%d days", h/24)
	} else if h < 24*30*2 {
		return fmt.Sprintf("%d weeks", h/24/7)
	} else if h < 24*365*2 {
		return fmt.Sprintf("%d months", h/24/30)
	} else {
		return fmt.Sprintf("%d years", h/24/365)
	}
}

// Status is ps's STATUS: "Up 3 seconds", "Exited (0) 5 seconds ago",
// "Created".
func Status(st engine.State, now time.Time) string {
	switch {
	case st.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, HumanDuration(now.Sub(st.FinishedAt)))
	case st.Running && st.Paused:
		return "Up " + HumanDuration(now.Sub(st.StartedAt)) + " (Paused)"
	case st.Running:
		return "Up " + HumanDuration(now.Sub(st.StartedAt)) + healthStatus(st.Health)
	case st.Status == "dead":
		return "Dead"
	case st.Status == "exited" || !st.FinishedAt.IsZero() && st.Status != "created":
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, HumanDuration(now.Sub(st.FinishedAt)))
	}
	return "Created"
}

// psRow is one container as ps's templates see it: Docker's field names.
type psRow struct {
	in      *engine.Info
	trunc   bool
	now     time.Time
	ID      string
	Image   string
	Command string
	Names   string
	Ports   string
	State   string
	Status  string
	Labels  string
	Mounts  string
	Size    string
	// CreatedAt and RunningFor are methods below, as in Docker.
	Networks     string
	LocalVolumes string
}

func (r psRow) CreatedAt() string {
	return r.in.Created.Local().Format("2006-01-02 15:04:05 -0700 MST")
}
func (r psRow) RunningFor() string { return HumanDuration(r.now.Sub(r.in.Created)) + " ago" }

// Label is {{.Label "key"}}.
func (r psRow) Label(k string) string { return r.in.Config.Labels[k] }

// diskSize is `ps -s`: the size of the container's read-write layer and,
// as Docker's "virtual", the size of all it sees. On overlay the RW layer
// is UpperDir and virtual adds the image's layers (LowerDir). vfs has no
// layer of its own, only a full copy (Dir): as Docker's vfs (its "naive"
// diff driver), the RW size is that of the files changed or added
// relative to the image (`docker diff`'s A and C lines), and virtual is
// the size of the copy.
func diskSize(in *engine.Info, ls containerStorage) string {
	g := in.GraphDriver
	var rw, virtual int64
	if dir := g.Data["Dir"]; g.Name == "vfs" && dir != "" {
		virtual = dirSize(dir)
		if ls != nil {
			if chs, err := ls.Changes(in.Container); err == nil {
				rw = changesSize(dir, chs)
			}
		}
		return fmt.Sprintf("%s (virtual %s)", humanSize(rw), humanSize(virtual))
	}
	rw = dirSize(g.Data["UpperDir"])
	virtual = rw
	for _, d := range strings.Split(g.Data["LowerDir"], ":") {
		virtual += dirSize(d)
	}
	return fmt.Sprintf("%s (virtual %s)", humanSize(rw), humanSize(virtual))
}

// changesSize adds up the regular files that chs adds or changes under
// root, each hard-linked file once (as Docker's archive.ChangesSize). The
// paths are the container's own, found by walking root, and Lstat follows
// no link at their end.
func changesSize(root string, chs []storage.Change) int64 {
	var n int64
	seen := map[uint64]bool{}
	for _, ch := range chs {
		if ch.Kind != storage.Added && ch.Kind != storage.Modified {
			continue
		}
		fi, err := os.Lstat(filepath.Join(root, ch.Path))
		if err != nil || !fi.Mode().IsRegular() {
			continue // gone meanwhile, or a directory, link or device
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				continue
			}
			seen[st.Ino] = true
		}
		n += fi.Size()
	}
	return n
}

func dirSize(dir string) int64 {
	if dir == "" {
		return 0
	}
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
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

func newRow(in *engine.Info, trunc bool, now time.Time) psRow {
	r := psRow{in: in, trunc: trunc, now: now, ID: in.ID, Image: in.Config.Image, Names: in.Name,
		State: in.State.Status, Status: Status(in.State, now), Networks: in.HostConfig.NetworkMode}
	if r.State == "" {
		r.State = "created"
	}
	if Extend.Ports != nil && in.State.Running {
		r.Ports = Extend.Ports(in.Container)
	}
	// Docker's COMMAND: path and args joined by spaces (not re-quoted),
	// cut to 20 characters, then quoted.
	command := strings.Join(append([]string{in.Path}, in.Args...), " ")
	if trunc {
		r.ID = in.ID[:min(12, len(in.ID))]
		if runes := []rune(command); len(runes) > 20 {
			command = string(runes[:19]) + "…"
		}
	}
	r.Command = strconv.Quote(command)
	var labels []string
	for k, v := range in.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	r.Labels = strings.Join(labels, ",")
	var mounts []string
	for _, m := range in.Mounts {
		n := m.Name
		if n == "" {
			n = m.Source
		}
		mounts = append(mounts, n)
	}
	r.Mounts = strings.Join(mounts, ",")
	return r
}

// psFilter is one -f KEY=VALUE.
type psFilter struct{ key, value string }

func parseFilters(fs []string) ([]psFilter, error) {
	var out []psFilter
	for _, f := range fs {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		switch k {
		case "name", "status", "label", "ancestor", "id", "exited", "health":
		default:
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		if k == "status" {
			switch v {
			case "created", "restarting", "running", "removing", "paused", "exited", "dead":
			default:
				return nil, fmt.Errorf("invalid filter 'status=%s'", v)
			}
		}
		if err := healthFilter(k, v); err != nil {
			return nil, err
		}
		out = append(out, psFilter{k, v})
	}
	return out, nil
}

// match applies Docker's rule: filters of one key are ORed, different keys ANDed.
func match(in *engine.Info, fs []psFilter) bool {
	byKey := map[string][]string{}
	for _, f := range fs {
		byKey[f.key] = append(byKey[f.key], f.value)
	}
	for key, values := range byKey {
		ok := false
		for _, v := range values {
			switch key {
			case "name":
				re, err := regexp.Compile(v)
				ok = err == nil && re.MatchString("/"+in.Name) || strings.Contains(in.Name, v)
			case "id":
				ok = strings.HasPrefix(in.ID, v)
			case "status":
				st := in.State.Status
				ok = st == v
			case "exited":
				ok = in.State.Status == "exited" && strconv.Itoa(in.State.ExitCode) == v
			case "health":
				ok = healthOf(in.State.Health) == v
			case "label":
				k, val, hasVal := strings.Cut(v, "=")
				got, has := in.Config.Labels[k]
				ok = has && (!hasVal || got == val)
			case "ancestor":
				ref := strings.TrimSuffix(in.Config.Image, ":latest")
				ok = ref == strings.TrimSuffix(v, ":latest") || strings.HasPrefix(in.Image, v) || strings.HasPrefix(strings.TrimPrefix(in.Image, "sha256:"), v)
			}
			if ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

const psTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

// psHeaders are the column titles of the fields in a table template.
var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "RunningFor": "CREATED", "CreatedAt": "CREATED AT",
	"Status": "STATUS", "Ports": "PORTS", "Names": "NAMES", "State": "STATE", "Labels": "LABELS", "Mounts": "MOUNTS",
	"Size": "SIZE", "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
}

var fieldRe = regexp.MustCompile(`\{\{\s*\.(\w+)[^}]*\}\}`)

func (c *CLI) psCmd() *cobra.Command {
	var all, quiet, latest, noTrunc, size bool
	var last int
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  cobra.NoArgs,
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			fs, err := parseFilters(filters)
			if err != nil {
				return daemonErr(err, 1)
			}
			list, err := e.List()
			if err != nil {
				return daemonErr(err, 1)
			}
			if latest {
				last = 1
			}
			var rows []*engine.Info
			for _, in := range list {
				if !all && last <= 0 && !in.State.Running && !in.State.Restarting && !hasStatusFilter(fs) {
					continue
				}
				if match(in, fs) {
					rows = append(rows, in)
				}
			}
			if last > 0 && len(rows) > last {
				rows = rows[:last]
			}
			ls, _ := layerStorage(e) // nil: -s sizes a vfs container's changes as 0
			return printPs(cmd.OutOrStdout(), rows, ls, quiet, !noTrunc, size, format)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	f.IntVarP(&last, "last", "n", -1, "show n last created containers (includes all states)")
	f.BoolVarP(&latest, "latest", "l", false, "show the latest created container (includes all states)")
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&size, "size", "s", false, "display total file sizes")
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter output based on conditions provided (name=, status=, label=, ancestor=, id=, exited=, health=)")
	f.StringVar(&format, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template")
	return cmd
}

func hasStatusFilter(fs []psFilter) bool {
	for _, f := range fs {
		if f.key == "status" || f.key == "exited" {
			return true
		}
	}
	return false
}

// printPs prints ps's table; ls (nil if the storage cannot diff) sizes a
// vfs container's changes for -s.
func printPs(w io.Writer, list []*engine.Info, ls containerStorage, quiet, trunc, size bool, format string) error {
	now := time.Now()
	if quiet {
		for _, in := range list {
			id := in.ID
			if trunc {
				id = id[:12]
			}
			fmt.Fprintln(w, id)
		}
		return nil
	}
	switch {
	case format == "" || format == "table":
		format = psTable
		if size {
			format += "\t{{.Size}}"
		}
	case format == "json":
		for _, in := range list {
			r := newRow(in, trunc, now)
			data, _ := json.Marshal(map[string]string{
				"ID": r.ID, "Image": r.Image, "Command": r.Command, "CreatedAt": r.CreatedAt(), "RunningFor": r.RunningFor(),
				"Ports": r.Ports, "State": r.State, "Status": r.Status, "Size": r.Size, "Names": r.Names, "Labels": r.Labels,
				"Mounts": r.Mounts, "Networks": r.Networks, "LocalVolumes": r.LocalVolumes,
			})
			fmt.Fprintf(w, "%s\n", data)
		}
		return nil
	}
	if strings.Contains(format, ".Size") || size {
		size = true
	}
	table := strings.HasPrefix(format, "table")
	body := strings.TrimSpace(strings.TrimPrefix(format, "table"))
	body = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(body)
	tmpl, err := template.New("ps").Funcs(templateFuncs).Parse(body)
	if err != nil {
		return cli.Fail(fmt.Errorf("template parsing error: %w", err))
	}
	out := w
	var tw *tabwriter.Writer
	if table {
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
	for _, in := range list {
		row := newRow(in, trunc, now)
		if size {
			row.Size = diskSize(in, ls)
		}
		if err := tmpl.Execute(out, row); err != nil {
			return cli.Fail(fmt.Errorf("template: %w", err))
		}
		fmt.Fprintln(out)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// templateFuncs are Docker's template functions.
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
	"upper": strings.ToUpper, "lower": strings.ToLower, "title": strings.Title, //nolint:staticcheck // Docker's name
	"split": strings.Split, "join": strings.Join,
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad": func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
}
