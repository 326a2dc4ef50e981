package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"

	"minibox/01-namespaces/cli"
	"minibox/01-namespaces/namespaces"
)

// view is what a process can see of the system: the facts the demo compares
// between the host and a container.
type view struct {
	PID       int      `json:"pid"`
	Hostname  string   `json:"hostname"`
	Links     []string `json:"links"`
	Processes int      `json:"processes"`
	PIDNS     uint64   `json:"pid_ns"`
	NetNS     uint64   `json:"net_ns"`
	UTSNS     uint64   `json:"uts_ns"`
	MntNS     uint64   `json:"mnt_ns"`
}

func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Show the same facts seen from the host and from inside new namespaces",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.RequireRoot(); err != nil {
				return err
			}
			host, err := look()
			if err != nil {
				return cli.Fail(err)
			}
			inside, err := lookInside("minibox-demo")
			if err != nil {
				return cli.Fail(err)
			}
			printDemo(cmd.OutOrStdout(), host, inside)
			return nil
		},
	}
}

// newShowCmd is the demo's probe: run inside the container, it prints what
// it sees as JSON.
func newShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "show",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := look()
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(v)
		},
	}
}

// lookInside runs `show` in new namespaces and reads what it saw.
func lookInside(hostname string) (view, error) {
	self, err := os.Executable()
	if err != nil {
		return view{}, fmt.Errorf("find our own binary: %w", err)
	}
	spec, err := namespaces.NewSpec(namespaces.Config{Args: []string{self, "show"}, Env: os.Environ(), Hostname: hostname})
	if err != nil {
		return view{}, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return view{}, err
	}
	defer r.Close()
	var out []byte
	done := make(chan error, 1)
	go func() {
		var err error
		out, err = io.ReadAll(r)
		done <- err
	}()
	code, err := namespaces.Run(spec, namespaces.Stdio{Stdin: nil, Stdout: w, Stderr: os.Stderr})
	w.Close()
	if rerr := <-done; err == nil {
		err = rerr
	}
	if err != nil {
		return view{}, err
	}
	if code != 0 {
		return view{}, fmt.Errorf("the probe inside the container exited with status %d", code)
	}
	var v view
	if err := json.Unmarshal(out, &v); err != nil {
		return view{}, fmt.Errorf("read the probe's report %q: %w", out, err)
	}
	return v, nil
}

// look gathers the facts as this process sees them.
func look() (view, error) {
	var v view
	var err error
	v.PID = os.Getpid()
	if v.Hostname, err = os.Hostname(); err != nil {
		return v, err
	}
	links, err := netlink.LinkList()
	if err != nil {
		return v, fmt.Errorf("list network links: %w", err)
	}
	for _, l := range links {
		v.Links = append(v.Links, l.Attrs().Name)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return v, err
	}
	for _, e := range entries {
		if e.Name()[0] >= '0' && e.Name()[0] <= '9' {
			v.Processes++
		}
	}
	for _, x := range []struct {
		t   string
		dst *uint64
	}{{"pid", &v.PIDNS}, {"net", &v.NetNS}, {"uts", &v.UTSNS}, {"mnt", &v.MntNS}} {
		if *x.dst, err = namespaces.NSInode("self", x.t); err != nil {
			return v, err
		}
	}
	return v, nil
}

func printDemo(out io.Writer, host, inside view) {
	fmt.Fprintln(out, "The same program, asked the same questions on the host and inside new namespaces:")
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(w, "\tHOST\tCONTAINER\t")
	fmt.Fprintf(w, "my PID\t%d\t%d\t(PID namespace: the first process is PID 1)\n", host.PID, inside.PID)
	fmt.Fprintf(w, "processes I see\t%d\t%d\t(a fresh /proc shows only the namespace's own)\n", host.Processes, inside.Processes)
	fmt.Fprintf(w, "hostname\t%s\t%s\t(UTS namespace)\n", host.Hostname, inside.Hostname)
	fmt.Fprintf(w, "network links\t%s\t%s\t(network namespace: only lo)\n", strings.Join(host.Links, ","), strings.Join(inside.Links, ","))
	fmt.Fprintf(w, "pid namespace\t%d\t%d\t\n", host.PIDNS, inside.PIDNS)
	fmt.Fprintf(w, "net namespace\t%d\t%d\t\n", host.NetNS, inside.NetNS)
	fmt.Fprintf(w, "uts namespace\t%d\t%d\t\n", host.UTSNS, inside.UTSNS)
	fmt.Fprintf(w, "mnt namespace\t%d\t%d\t\n", host.MntNS, inside.MntNS)
	w.Flush()
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Try it yourself:")
	fmt.Fprintln(out, "  sudo go run ./01-namespaces run --hostname box -- sh    # then: ps, hostname, ip link, exit")
	fmt.Fprintln(out, "  sudo go run ./01-namespaces ns $$                       # your shell's namespaces")
}
