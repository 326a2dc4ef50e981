package commands

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/engine"
	"minibox/05-network/network"
)

func (n *CLI) networkCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Manage networks", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	cmd.AddCommand(n.netCreateCmd(), n.netLsCmd(), n.netInspectCmd(), n.netRmCmd(), n.netPruneCmd(),
		n.netConnectCmd(), n.netDisconnectCmd())
	return cmd
}

func fail(err error) error { return lesson04.DaemonErr(err, 1) }

// withManager is a network command's RunE with the engine and the network
// manager at hand; a program without lesson 05's networks fails first.
func (n *CLI) withManager(fn func(cmd *cobra.Command, args []string, e *engine.Engine, m *network.Manager) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, m, err := n.manager()
		if err != nil {
			return cli.Fail(err)
		}
		return fn(cmd, args, e, m)
	}
}

func (n *CLI) netCreateCmd() *cobra.Command {
	var r network.CreateRequest
	var opts, labels []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		Example: `  minibox network create appnet
  minibox network create --subnet 10.89.0.0/24 --gateway 10.89.0.1 appnet
  minibox network create -d macvlan --subnet 192.168.50.0/24 -o parent=eth1 lan`,
		RunE: n.withManager(func(cmd *cobra.Command, args []string, _ *engine.Engine, m *network.Manager) error {
			r.Name = args[0]
			var err error
			if r.Options, err = keyValues("-o", opts); err != nil {
				return cli.Fail(err)
			}
			if r.Labels, err = keyValues("--label", labels); err != nil {
				return cli.Fail(err)
			}
			nw, err := m.Create(r)
			if err != nil {
				return fail(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), nw.ID)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&r.Driver, "driver", "d", "bridge", "driver to manage the network: bridge or macvlan")
	f.StringVar(&r.Subnet, "subnet", "", "subnet in CIDR format (default: a free one of Docker's pools)")
	f.StringVar(&r.Gateway, "gateway", "", "IPv4 gateway of the subnet (default: its first address)")
	f.StringVar(&r.IPRange, "ip-range", "", "allocate container addresses from this sub-range")
	f.BoolVar(&r.Internal, "internal", false, "restrict external access to the network")
	f.StringArrayVarP(&opts, "opt", "o", nil, "driver options: com.docker.network.bridge.name=, parent=, macvlan_mode=")
	f.StringArrayVarP(&labels, "label", "l", nil, "set metadata on a network")
	return cmd
}

func (n *CLI) netLsCmd() *cobra.Command {
	var quiet, noTrunc bool
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: n.withManager(func(cmd *cobra.Command, args []string, _ *engine.Engine, m *network.Manager) error {
			match, err := netFilter(filters)
			if err != nil {
				return cli.Fail(err)
			}
			nets, err := m.List()
			if err != nil {
				return fail(err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			if !quiet && format == "" {
				fmt.Fprintln(w, "NETWORK ID\tNAME\tDRIVER\tSCOPE")
			}
			for _, nw := range nets {
				if !match(nw) {
					continue
				}
				id := nw.ID
				if !noTrunc {
					id = id[:12]
				}
				switch {
				case quiet:
					fmt.Fprintln(w, id)
				case format != "":
					out := strings.NewReplacer("{{.ID}}", id, "{{.Name}}", nw.Name, "{{.Driver}}", nw.Driver, "{{.Scope}}", nw.Scope, `\t`, "\t").Replace(format)
					fmt.Fprintln(w, out)
				default:
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", id, nw.Name, nw.Driver, nw.Scope)
				}
			}
			return w.Flush()
		}),
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate the output")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter output: driver=, name=, id=, label=, type=custom|builtin")
	cmd.Flags().StringVar(&format, "format", "", "print with a template of {{.ID}} {{.Name}} {{.Driver}} {{.Scope}}")
	return cmd
}

// netFilter is `network ls -f`: the same key given twice matches either
// value, different keys must all match (Docker's rule).
func netFilter(fs []string) (func(*network.Network) bool, error) {
	by := map[string][]string{}
	for _, f := range fs {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s", f)
		}
		switch k {
		case "driver", "name", "id", "label", "type", "scope":
		default:
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		if k == "type" && v != "custom" && v != "builtin" {
			return nil, fmt.Errorf("invalid filter: 'type'='%s'", v)
		}
		by[k] = append(by[k], v)
	}
	return func(nw *network.Network) bool {
		for k, vs := range by {
			ok := false
			for _, v := range vs {
				switch k {
				case "driver":
					ok = ok || nw.Driver == v
				case "name":
					ok = ok || strings.Contains(nw.Name, v)
				case "id":
					ok = ok || strings.HasPrefix(nw.ID, v)
				case "scope":
					ok = ok || nw.Scope == v
				case "label":
					lk, lv, hasV := strings.Cut(v, "=")
					got, has := nw.Labels[lk]
					ok = ok || (has && (!hasV || got == lv))
				case "type":
					builtin := nw.Name == "bridge" || nw.Name == "host" || nw.Name == "none"
					ok = ok || (v == "builtin") == builtin
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

func (n *CLI) netInspectCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  cobra.MinimumNArgs(1),
		RunE: n.withManager(func(cmd *cobra.Command, args []string, _ *engine.Engine, m *network.Manager) error {
			var out []*network.Network
			var missing error
			for _, a := range args {
				nw, err := m.Get(a)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "Error: No such network: "+a)
					missing = err
					continue
				}
				out = append(out, nw)
			}
			if err := lesson04.PrintInspect(cmd.OutOrStdout(), format, out); err != nil {
				return cli.Fail(err)
			}
			if missing != nil {
				return &cli.ExitStatus{Code: 1, Err: nil}
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output using the given Go template")
	return cmd
}

func (n *CLI) netRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: n.withManager(func(cmd *cobra.Command, args []string, _ *engine.Engine, m *network.Manager) error {
			failed := false
			for _, a := range args {
				if err := m.Remove(a); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "Error response from daemon: "+err.Error())
					failed = true
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), a)
			}
			if failed {
				return &cli.ExitStatus{Code: 1}
			}
			return nil
		}),
	}
}

func (n *CLI) netPruneCmd() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  cobra.NoArgs,
		RunE: n.withManager(func(cmd *cobra.Command, args []string, _ *engine.Engine, m *network.Manager) error {
			keep, err := labelKeep(filters)
			if err != nil {
				return cli.Fail(err)
			}
			if !force && !confirm(cmd.InOrStdin(), cmd.OutOrStdout(), "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ") {
				return nil
			}
			gone, err := m.Prune(keep)
			if len(gone) > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "Deleted Networks:")
				for _, g := range gone {
					fmt.Fprintln(cmd.OutOrStdout(), g)
				}
				fmt.Fprintln(cmd.OutOrStdout())
			}
			return fail(err)
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "provide filter values (label=KEY[=VALUE], label!=...)")
	return cmd
}

// labelKeep is prune's --filter label=: only networks with the label go
// (label!= the opposite).
func labelKeep(fs []string) (func(*network.Network) bool, error) {
	type cond struct {
		k, v string
		hasV bool
		not  bool
	}
	var cs []cond
	for _, f := range fs {
		k, v, ok := strings.Cut(f, "=")
		if !ok || (k != "label" && k != "label!") {
			return nil, fmt.Errorf("invalid filter %q: network prune knows label=KEY[=VALUE] and label!=KEY[=VALUE]", f)
		}
		lk, lv, hasV := strings.Cut(v, "=")
		cs = append(cs, cond{lk, lv, hasV, k == "label!"})
	}
	return func(nw *network.Network) bool {
		for _, c := range cs {
			got, has := nw.Labels[c.k]
			m := has && (!c.hasV || got == c.v)
			if m == c.not {
				return true // keep
			}
		}
		return false
	}, nil
}

func (n *CLI) netConnectCmd() *cobra.Command {
	var ip string
	var aliases []string
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: n.withManager(func(cmd *cobra.Command, args []string, e *engine.Engine, m *network.Manager) error {
			err := e.Update(args[1], func(c *engine.Container, running bool) error {
				return m.Connect(c, running, args[0], ip, aliases)
			})
			return fail(err)
		}),
	}
	cmd.Flags().StringVar(&ip, "ip", "", "IPv4 address (e.g. 172.30.100.104)")
	cmd.Flags().StringArrayVar(&aliases, "alias", nil, "add a network-scoped alias for the container")
	return cmd
}

func (n *CLI) netDisconnectCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: n.withManager(func(cmd *cobra.Command, args []string, e *engine.Engine, m *network.Manager) error {
			err := e.Update(args[1], func(c *engine.Container, running bool) error {
				return m.Disconnect(c, running, args[0], force)
			})
			return fail(err)
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force the container to disconnect from a network: a network removed since, or an endpoint that cannot be taken down, is dropped from the container's config without an error")
	return cmd
}

func keyValues(flag string, kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid %s %q: expected KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

func confirm(in io.Reader, out io.Writer, prompt string) bool {
	fmt.Fprint(out, prompt)
	if in == nil {
		in = os.Stdin
	}
	line, _ := bufio.NewReader(in).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}
