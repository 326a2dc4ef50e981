package commands

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/containerfs"
	"minibox/04-storage/engine"
	"minibox/04-storage/volumes"
)

// volumeStore finds the volume store behind the engine's storage.
func volumeStore(e *engine.Engine) (*volumes.Store, error) {
	if s, ok := e.Options().Storage.(*containerfs.Storage); ok && s.Volumes != nil {
		return s.Volumes, nil
	}
	return nil, errors.New("this engine's storage has no volumes")
}

// volumeCmd is `docker volume create|ls|inspect|rm|prune`.
func (c *CLI) volumeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "volume COMMAND", Short: "Manage volumes", Args: cobra.NoArgs}
	var labels []string
	create := &cobra.Command{
		Use: "create [OPTIONS] [VOLUME]", Short: "Create a volume", Args: cobra.MaximumNArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			vs, err := volumeStore(e)
			if err != nil {
				return daemonErr(err, 1)
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			lm := map[string]string{}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				lm[k] = v
			}
			v, err := vs.Create(name, lm, false)
			if err != nil {
				return daemonErr(err, 1)
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.Name)
			return nil
		}),
	}
	create.Flags().StringArrayVar(&labels, "label", nil, "set metadata for a volume: KEY=VALUE (repeatable)")
	var quiet bool
	var filters []string
	ls := &cobra.Command{
		Use: "ls [OPTIONS]", Short: "List volumes", Args: cobra.NoArgs,
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			vs, err := volumeStore(e)
			if err != nil {
				return daemonErr(err, 1)
			}
			f, err := volumes.ParseFilter(filters)
			if err != nil {
				return daemonErr(err, 1)
			}
			list, err := vs.List(f)
			if err != nil {
				return daemonErr(err, 1)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 5, ' ', 0)
			if !quiet {
				fmt.Fprintln(tw, "DRIVER\tVOLUME NAME")
			}
			for _, v := range list {
				if quiet {
					fmt.Fprintln(tw, v.Name)
				} else {
					fmt.Fprintf(tw, "%s\t%s\n", v.Driver, v.Name)
				}
			}
			return tw.Flush()
		}),
	}
	ls.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display volume names")
	ls.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter output: dangling=true|false, name=..., label=...")
	var format string
	inspect := &cobra.Command{
		Use: "inspect [OPTIONS] VOLUME [VOLUME...]", Short: "Display detailed information on one or more volumes", Args: cobra.MinimumNArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			vs, err := volumeStore(e)
			if err != nil {
				return daemonErr(err, 1)
			}
			out := []*volumes.Volume{}
			for _, n := range args {
				v, err := vs.Inspect(n)
				if err != nil {
					return daemonErr(err, 1)
				}
				out = append(out, v)
			}
			return printInspect(cmd.OutOrStdout(), format, out)
		}),
	}
	inspect.Flags().StringVarP(&format, "format", "f", "", "format the output using the given Go template")
	var force bool
	rm := &cobra.Command{
		Use: "rm [OPTIONS] VOLUME [VOLUME...]", Short: "Remove one or more volumes", Args: cobra.MinimumNArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			vs, err := volumeStore(e)
			if err != nil {
				return daemonErr(err, 1)
			}
			var failed bool
			for _, n := range args {
				if err := vs.Remove(n, force); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "Error response from daemon: %s\n", err)
					failed = true
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			if failed {
				return &cli.ExitStatus{Code: 1}
			}
			return nil
		}),
	}
	rm.Flags().BoolVarP(&force, "force", "f", false, "do not fail on a volume that does not exist")
	var all bool
	var pfilters []string
	prune := &cobra.Command{
		Use: "prune [OPTIONS]", Short: "Remove unused local volumes", Args: cobra.NoArgs,
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			vs, err := volumeStore(e)
			if err != nil {
				return daemonErr(err, 1)
			}
			f, err := volumes.ParseFilter(pfilters)
			if err != nil {
				return daemonErr(err, 1)
			}
			names, freed, err := vs.Prune(f, all)
			if err != nil {
				return daemonErr(err, 1)
			}
			out := cmd.OutOrStdout()
			if len(names) > 0 {
				fmt.Fprintln(out, "Deleted Volumes:")
				for _, n := range names {
					fmt.Fprintln(out, n)
				}
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "Total reclaimed space: %s\n", humanSize(freed))
			return nil
		}),
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "remove named volumes too, not only anonymous ones")
	prune.Flags().StringArrayVar(&pfilters, "filter", nil, "filter: label=...")
	prune.Flags().BoolP("force", "f", false, "do not prompt for confirmation (minibox never prompts)")
	cmd.AddCommand(create, ls, inspect, rm, prune)
	return cmd
}
