package commands

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"minibox/04-storage/engine"
)

// addRestartFlag is create's and run's --restart (lesson 07).
func addRestartFlag(fs *pflag.FlagSet, policy *string) {
	fs.StringVar(policy, "restart", engine.RestartNo, "restart policy to apply when a container exits: no, always, on-failure[:max-retries], unless-stopped")
}

// restartPolicy parses --restart as Docker's CLI does (opts.ParseRestartPolicy):
// NAME[:COUNT]; the daemon's checks of the policy itself are the engine's
// (engine.ValidateRestartPolicy, at create). A policy with --rm is refused
// here, in the CLI's words.
func restartPolicy(s string, autoRemove bool) (engine.RestartPolicy, error) {
	var p engine.RestartPolicy
	if s == "" {
		return p, nil
	}
	name, count, ok := strings.Cut(s, ":")
	if ok && name == "" {
		return p, errors.New("invalid restart policy format: no policy provided before colon")
	}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return p, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	p.Name = name
	if autoRemove && !p.IsNone() {
		return p, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	return p, nil
}

// bootCmd is `minibox system boot`: what dockerd does for the containers
// when it starts, for a host with no daemon (engine.Boot). The unit
// vm/minibox-boot.service runs it once at boot.
func (c *CLI) bootCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "boot",
		Short: "Start the containers whose restart policy says so, as Docker's daemon does when it starts (run once at the host's boot)",
		Args:  cobra.NoArgs,
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			started, err := e.Boot()
			for _, name := range started {
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			return daemonErr(err, 1)
		}),
	}
}
