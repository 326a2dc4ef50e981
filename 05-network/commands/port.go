package commands

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
)

// portCmd is `port CONTAINER [PRIVATE_PORT[/PROTO]]`: where the host
// publishes the container's ports, from what the monitor recorded when it
// bound them.
func (n *CLI) portCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, _, err := n.manager()
			if err != nil {
				return cli.Fail(err)
			}
			in, err := e.Inspect(args[0])
			if err != nil {
				return fail(err)
			}
			ports := in.NetworkSettings.Ports
			if !in.State.Running {
				ports = nil
			}
			keys := make([]string, 0, len(ports))
			for k := range ports {
				keys = append(keys, k)
			}
			slices.SortFunc(keys, compareKeys)
			out := cmd.OutOrStdout()
			if len(args) == 2 {
				want := args[1]
				if !strings.Contains(want, "/") {
					want += "/tcp"
				}
				bs := ports[want]
				if len(bs) == 0 {
					return fail(fmt.Errorf("No public port '%s' published for %s", want, in.Name))
				}
				for _, b := range bs {
					fmt.Fprintf(out, "%s:%s\n", b.HostIP, b.HostPort)
				}
				return nil
			}
			for _, k := range keys {
				for _, b := range ports[k] {
					fmt.Fprintf(out, "%s -> %s:%s\n", k, b.HostIP, b.HostPort)
				}
			}
			return nil
		},
	}
}

// compareKeys orders "80/tcp" keys by port, then protocol.
func compareKeys(a, b string) int {
	pa, qa, _ := strings.Cut(a, "/")
	pb, qb, _ := strings.Cut(b, "/")
	na, _ := strconv.Atoi(pa)
	nb, _ := strconv.Atoi(pb)
	if c := cmp.Compare(na, nb); c != 0 {
		return c
	}
	return cmp.Compare(qa, qb)
}
