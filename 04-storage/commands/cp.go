package commands

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/engine"
)

// splitCopyArg reads CONTAINER:PATH; a path with a "/" before any ":"
// (./a:b, /x:y) is a local path, as Docker reads it.
func splitCopyArg(arg string) (container, p string) {
	i := strings.Index(arg, ":")
	if i <= 0 || strings.Contains(arg[:i], "/") {
		return "", arg
	}
	return arg[:i], arg[i+1:]
}

func (c *CLI) cpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH\n  minibox cp [OPTIONS] SRC_PATH CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  cobra.ExactArgs(2),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			fromC, src := splitCopyArg(args[0])
			toC, dst := splitCopyArg(args[1])
			switch {
			case fromC != "" && toC != "":
				return cli.Fail(errors.New("copying between containers is not supported"))
			case fromC != "":
				return daemonErr(e.CopyFrom(fromC, src, dst), 1)
			case toC != "":
				return daemonErr(e.CopyTo(toC, src, dst), 1)
			}
			return cli.Fail(errors.New("must specify at least one container source"))
		}),
	}
}
