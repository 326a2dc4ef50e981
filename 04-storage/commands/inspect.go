package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/02-cgroups/cgroups"
	"minibox/04-storage/engine"
)

// inspectJSON is a container as Docker's inspect prints it: the record
// with its state, Name with the leading "/", and the engine's private
// fields left out.
func inspectJSON(e *engine.Engine, in *engine.Info) (map[string]any, error) {
	data, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	// Numbers stay numbers as written (1e+07 is not how Docker prints
	// a memory limit in a template).
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	m["Name"] = "/" + in.Name
	m["LogPath"] = e.LogPath(in.ID)
	m["Driver"] = in.GraphDriver.Name
	m["Platform"] = "linux"
	if st, ok := m["State"].(map[string]any); ok {
		delete(st, "PidStart")
		delete(st, "MonitorPid")
		delete(st, "MonitorStart")
	}
	if m["Mounts"] == nil {
		m["Mounts"] = []any{}
	}
	return m, nil
}

func (c *CLI) inspectCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Return low-level information on containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			var out []any
			var failed bool
			for _, ref := range args {
				in, err := e.Inspect(ref)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "Error: %s\n", message(err))
					failed = true
					continue
				}
				m, err := inspectJSON(e, in)
				if err != nil {
					return cli.Fail(err)
				}
				out = append(out, m)
			}
			if err := printInspect(cmd.OutOrStdout(), format, out); err != nil {
				return err
			}
			if failed {
				return &cli.ExitStatus{Code: 1}
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output using the given Go template")
	cmd.Flags().BoolP("size", "s", false, "display total file sizes")
	return cmd
}

// PrintInspect is printInspect for later lessons' inspect commands.
func PrintInspect[T any](w io.Writer, format string, out []T) error {
	return printInspect(w, format, out)
}

// printInspect prints what an inspect command found: a JSON array, or each
// object through the Go template of --format, as Docker does.
func printInspect[T any](w io.Writer, format string, out []T) error {
	if format == "" {
		if out == nil {
			out = []T{}
		}
		data, err := json.MarshalIndent(out, "", "    ")
		if err != nil {
			return cli.Fail(err)
		}
		fmt.Fprintf(w, "%s\n", data)
		return nil
	}
	tmpl, err := template.New("inspect").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return cli.Fail(fmt.Errorf("template parsing error: %w", err))
	}
	for _, m := range out {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, m); err != nil {
			return cli.Fail(fmt.Errorf("template: %w", err))
		}
		fmt.Fprintln(w, b.String())
	}
	return nil
}

func (c *CLI) logsCmd() *cobra.Command {
	var o engine.LogOptions
	var tail, since, until string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			o.Tail = -1
			if tail != "all" && tail != "" {
				n, err := strconv.Atoi(tail)
				if err != nil {
					return cli.Fail(fmt.Errorf("invalid value for --tail: %q", tail))
				}
				o.Tail = n
			}
			var err error
			if o.Since, err = parseTime(since); err != nil {
				return cli.Fail(fmt.Errorf("--since: %w", err))
			}
			if o.Until, err = parseTime(until); err != nil {
				return cli.Fail(fmt.Errorf("--until: %w", err))
			}
			return daemonErr(e.Logs(args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr()), 1)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "follow log output")
	f.BoolVarP(&o.Timestamps, "timestamps", "t", false, "show timestamps")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	f.StringVar(&since, "since", "", "show logs since a timestamp (2013-01-02T13:23:37Z) or relative (42m)")
	f.StringVar(&until, "until", "", "show logs before a timestamp or relative (42m)")
	return cmd
}

// parseTime reads Docker's --since: RFC 3339 (with or without the time or
// zone), a Unix timestamp, or a duration before now (10m, 1h30m).
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as a time or a duration", s)
}

func (c *CLI) topCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "Display the running processes of a container",
		Args:  cobra.ExactArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			pids, err := e.Top(args[0])
			if err != nil {
				return daemonErr(err, 1)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-8s %-8s %-8s %s\n", "UID", "PID", "PPID", "CMD")
			for _, pid := range pids {
				uid, ppid, argv := ProcInfo(pid)
				fmt.Fprintf(w, "%-8s %-8d %-8d %s\n", uid, pid, ppid, argv)
			}
			return nil
		}),
	}
}

// ProcInfo reads a process's owner, parent and command line from /proc.
func ProcInfo(pid int) (uid string, ppid int, argv string) {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			switch f[0] {
			case "Uid:":
				uid = f[1]
			case "PPid:":
				ppid, _ = strconv.Atoi(f[1])
			}
		}
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	argv = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	return
}

// Version is minibox's version, printed by `version` and `info`.
const Version = "0.4.0"

func (c *CLI) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the minibox version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Client:\n Version:           %s\n Go version:        %s\n OS/Arch:           %s/%s\n\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(w, "Server: (none: minibox has no daemon)\n Engine:\n  Version:          %s\n  Default runtime:  %s\n", Version, c.Globals.DefaultRuntime)
			return nil
		},
	}
}

func (c *CLI) infoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Display system-wide information",
		Args:  cobra.NoArgs,
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			list, err := e.List()
			if err != nil {
				return daemonErr(err, 1)
			}
			var running, stopped int
			for _, in := range list {
				if in.State.Running {
					running++
				} else {
					stopped++
				}
			}
			v, _ := cgroups.Detect(cgroups.DefaultRoot)
			host, _ := os.Hostname()
			w := cmd.OutOrStdout()
			printInfo(w, [][2]string{
				{"Containers", strconv.Itoa(len(list))}, {" Running", strconv.Itoa(running)}, {" Paused", "0"}, {" Stopped", strconv.Itoa(stopped)},
				{"Server Version", Version}, {"Logging Driver", "json-file"}, {"Cgroup Driver", "cgroupfs"}, {"Cgroup Version", strconv.Itoa(v)},
				{"Runtimes", "minibox runc crun"}, {"Default Runtime", c.Globals.DefaultRuntime},
				{"Operating System", osName()}, {"Architecture", runtime.GOARCH}, {"CPUs", strconv.Itoa(runtime.NumCPU())},
				{"Name", host}, {"Docker Root Dir", e.DataRoot()}, {"Exec Root Dir", e.ExecRoot()},
			})
			return nil
		}),
	}
}

func printInfo(w io.Writer, rows [][2]string) {
	for _, r := range rows {
		fmt.Fprintf(w, " %s: %s\n", r[0], r[1])
	}
}

func osName() string {
	data, _ := os.ReadFile("/etc/os-release")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}
