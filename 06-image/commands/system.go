package commands

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/engine"
	"minibox/04-storage/images"
)

// dfCmd is `docker system df`: how much the images and containers take,
// and how much of it nothing uses.
func (x *CLI) dfCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "df",
		Short: "Show minibox disk usage",
		Args:  noArgs,
		RunE: x.withEngine(func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error {
			list, err := st.List()
			if err != nil {
				return lesson04.DaemonErr(err, 1)
			}
			ctrs, err := e.List()
			if err != nil {
				return lesson04.DaemonErr(err, 1)
			}
			return printDF(cmd.OutOrStdout(), list, ctrs)
		}),
	}
}

func printDF(w io.Writer, list []images.Summary, ctrs []*engine.Info) error {
	var size, reclaim int64
	active := 0
	for _, im := range list {
		// An image's layers shared with others count once: SharedSize is
		// the part of Size that other images hold too.
		own := im.Size - im.SharedSize
		size += own
		if im.InUse {
			active++
		} else {
			reclaim += own
		}
	}
	running := 0
	for _, c := range ctrs {
		if c.State.Running {
			running++
		}
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	pct := 0
	if size > 0 {
		pct = int(reclaim * 100 / size)
	}
	fmt.Fprintf(tw, "Images\t%d\t%d\t%s\t%s (%d%%)\n", len(list), active, humanSize(size), humanSize(reclaim), pct)
	fmt.Fprintf(tw, "Containers\t%d\t%d\t%s\t%s\n", len(ctrs), running, humanSize(0), humanSize(0))
	fmt.Fprintf(tw, "Build Cache\t0\t0\t0B\t0B\n")
	return tw.Flush()
}
