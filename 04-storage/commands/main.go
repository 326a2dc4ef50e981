package commands

import (
	"os"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/namespaces"
	"minibox/03-rootfs/ocicli"
	"minibox/04-storage/engine"
)

// Main is the whole of a minibox program's main: wire makes the engine with
// the program's lessons. A minibox binary plays three more parts when it is
// re-executed, and detects them first: the init another runtime runs for
// --init (namespaces.InitProgram), the container's init (and an exec'd
// process), both lesson 03's, and a container's monitor. It also hosts
// lesson 03's OCI runtime as the hidden `runtime` command, which the engine
// drives as containerd's shim drives runc.
func Main(name, short string, wire NewEngine, more ...*cobra.Command) {
	MainCLI(name, short, wire, func(*CLI) []*cobra.Command { return more })
}

// MainCLI is Main for a lesson whose own commands need the CLI (its
// engine, its globals): more makes them once the CLI exists. Hidden
// programs of a later lesson (lesson 05's resolver) are detected by its
// main before this.
func MainCLI(name, short string, wire NewEngine, more func(c *CLI) []*cobra.Command) {
	if namespaces.IsInitProgram() {
		namespaces.InitProgramMain() // PID 1 of a container run with --init by another runtime
	}
	ocicli.MaybeInit()
	if engine.IsMonitor() {
		engine.RunMonitor(func(dataRoot, execRoot string) (*engine.Engine, error) {
			return wire(Globals{DataRoot: dataRoot, ExecRoot: execRoot})
		})
	}
	c := New(name, short, wire)
	var g ocicli.Flags
	rt := &cobra.Command{Use: "runtime", Hidden: true, Short: "minibox's own OCI runtime (runc's commands), as the engine calls it"}
	g.AddFlags(rt)
	rt.AddCommand(ocicli.Commands(&g)...)
	c.Add(rt)
	c.AddLessons(more)
	os.Exit(c.Execute(os.Args[1:], os.Stdout, os.Stderr))
}
