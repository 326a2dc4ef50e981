// Package commands is lesson 05's part of the command line: `network`
// (create, ls, inspect, rm, prune, connect, disconnect), `port`, and the
// flags run and create gain (-p, -P, --expose, --ip, --network-alias,
// --dns, --dns-search, --dns-option, --add-host; --network now defaults
// to the bridge network), on top of lesson 04's commands.
package commands

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/engine"
	"minibox/05-network/network"
	"minibox/05-network/portmap"
)

// Lesson05 makes the engine with lesson 04's storage and images and this
// lesson's networks.
func Lesson05(g lesson04.Globals) (*engine.Engine, error) {
	return lesson04.WithLesson04(g, func(o *engine.Options) (func(*engine.Engine), error) {
		data, err := filepath.Abs(orDefault(o.DataRoot, engine.DefaultDataRoot))
		if err != nil {
			return nil, err
		}
		exec, err := filepath.Abs(orDefault(o.ExecRoot, engine.DefaultExecRoot))
		if err != nil {
			return nil, err
		}
		m, err := network.New(data, exec, "")
		if err != nil {
			return nil, err
		}
		o.Networks = m
		return func(e *engine.Engine) {
			m.SetProgram(e.Options().Self)
			m.Lookup = func(ref string) (*engine.Container, error) {
				in, err := e.Inspect(ref)
				if err != nil {
					return nil, err
				}
				return in.Container, nil
			}
		}, nil
	})
}

// Install hooks lesson 05 into lesson 04's run, create and ps; the
// program's main calls it before commands.MainCLI.
func Install() *CLI {
	n := &CLI{}
	lesson04.Extend.Create = func() lesson04.CreateExtension { return &createExt{cli: n} }
	lesson04.Extend.Ports = func(c *engine.Container) string { return formatPorts(c.NetworkSettings.Ports) }
	return n
}

// CLI is lesson 05's commands over lesson 04's CLI.
type CLI struct{ c *lesson04.CLI }

// Commands are lesson 05's commands for the program's CLI.
func (n *CLI) Commands(c *lesson04.CLI) []*cobra.Command {
	n.c = c
	return []*cobra.Command{n.networkCmd(), n.portCmd()}
}

func (n *CLI) manager() (*engine.Engine, *network.Manager, error) {
	if n.c == nil {
		return nil, nil, fmt.Errorf("lesson 05's commands are not installed")
	}
	e, err := n.c.Engine()
	if err != nil {
		return nil, nil, err
	}
	m, ok := e.Options().Networks.(*network.Manager)
	if !ok {
		return nil, nil, fmt.Errorf("this program has no networks (lesson 05)")
	}
	return e, m, nil
}

func formatPorts(ports map[string][]engine.PortBinding) string {
	hb := map[string][]portmap.HostBinding{}
	for k, bs := range ports {
		var out []portmap.HostBinding
		for _, b := range bs {
			out = append(out, portmap.HostBinding{HostIP: b.HostIP, HostPort: b.HostPort})
		}
		hb[k] = out
	}
	return portmap.Format(hb)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
