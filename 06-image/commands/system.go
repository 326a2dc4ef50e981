package commands

import (
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/containerfs"
	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/04-storage/volumes"
	"minibox/06-image/image"
)

// dfCmd is `docker system df`: what the images and containers take, and
// how much of it nothing uses.
func (x *CLI) dfCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "df",
		Short: "Show minibox disk usage",
		Args:  noArgs,
		RunE: x.withEngine(func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error {
			df, err := image.DiskUsage(st)
			if err != nil {
				return lesson04.DaemonErr(err, 1)
			}
			ctrs, err := e.List()
			if err != nil {
				return lesson04.DaemonErr(err, 1)
			}
			vols, err := volumeUsage(e)
			if err != nil {
				return lesson04.DaemonErr(err, 1)
			}
			return printDF(cmd.OutOrStdout(), df, ctrs, vols)
		}),
	}
}

// volumesDF is the Local Volumes row: how many, how many a container
// uses, and their bytes.
type volumesDF struct {
	Total, Active int
	Size, Unused  int64
}

func volumeUsage(e *engine.Engine) (volumesDF, error) {
	var v volumesDF
	s, ok := e.Options().Storage.(*containerfs.Storage)
	if !ok || s.Volumes == nil {
		return v, nil // an engine without volumes: the row says 0
	}
	list, err := s.Volumes.List(volumes.Filter{})
	if err != nil {
		return v, err
	}
	for _, vol := range list {
		users, err := s.Volumes.Users(vol.Name)
		if err != nil {
			return v, err
		}
		n := dirSize(vol.Mountpoint)
		v.Total++
		v.Size += n
		if len(users) > 0 {
			v.Active++
		} else {
			v.Unused += n
		}
	}
	return v, nil
}

func printDF(w io.Writer, df image.DF, ctrs []*engine.Info, vols volumesDF) error {
	var size, reclaim int64
	running := 0
	for _, c := range ctrs {
		// A container's own bytes are its read-write layer: the overlay's
		// upper directory (a vfs container's copy holds the image too, so
		// only the upper dir of overlay counts, as Docker's SIZE).
		n := dirSize(c.GraphDriver.Data["UpperDir"])
		size += n
		if c.State.Running {
			running++
		} else {
			reclaim += n
		}
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	fmt.Fprintf(tw, "Images\t%d\t%d\t%s\t%s\n", df.Total, df.Active, humanSize(df.Size), withPercent(df.Reclaimable, df.Size))
	fmt.Fprintf(tw, "Containers\t%d\t%d\t%s\t%s\n", len(ctrs), running, humanSize(size), withPercent(reclaim, size))
	fmt.Fprintf(tw, "Local Volumes\t%d\t%d\t%s\t%s\n", vols.Total, vols.Active, humanSize(vols.Size), withPercent(vols.Unused, vols.Size))
	// The classic builder keeps its cache as step images (counted above
	// as images); BuildKit's cache records are what this row counts.
	fmt.Fprintf(tw, "Build Cache\t0\t0\t0B\t0B\n")
	return tw.Flush()
}

// withPercent is Docker's RECLAIMABLE: "1.2MB (50%)", no percentage of
// nothing.
func withPercent(n, of int64) string {
	if of == 0 {
		return humanSize(n)
	}
	return fmt.Sprintf("%s (%d%%)", humanSize(n), n*100/of)
}

func dirSize(dir string) int64 {
	if dir == "" {
		return 0
	}
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
