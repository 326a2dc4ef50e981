// Command 06-image is minibox as of lesson 06: lesson 05's engine with
// images that come from registries and from Dockerfiles. `pull` and `push`
// speak the registry's /v2/ protocol, `save` and `load` move images as
// Docker's archives, and `build` runs a Dockerfile step by step, each step
// an image, with the classic builder's cache.
//
//	sudo go run ./06-image build -t hello .
//	sudo go run ./06-image build -t hello .        # again: every step from the cache
//	sudo go run ./06-image history hello
//	sudo go run ./06-image tag hello 127.0.0.1:5000/hello && sudo go run ./06-image push 127.0.0.1:5000/hello
//	sudo go run ./06-image rmi hello 127.0.0.1:5000/hello
//	sudo go run ./06-image run --rm 127.0.0.1:5000/hello   # pulled first: "Unable to find image ... locally"
//	sudo go run ./06-image demo
package main

import (
	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/02-cgroups/cgroups"
	lesson04 "minibox/04-storage/commands"
	lesson05 "minibox/05-network/commands"
	"minibox/05-network/network"
	"minibox/06-image/commands"
	"minibox/internal/doctor"
)

func main() {
	if network.IsResolver() {
		network.RunResolver() // a user network's resolver (never returns)
	}
	n := lesson05.Install()
	i := commands.Install()
	checks := func() []doctor.Check {
		return append(append(doctor.Base(), cgroups.DoctorChecks()...), lesson05.DoctorChecks()...)
	}
	lesson04.MainCLI("minibox", "minibox: a small Docker without a daemon (lessons 01-06)", commands.Lesson06,
		func(c *lesson04.CLI) []*cobra.Command {
			return append(append(n.Commands(c), i.Commands(c)...), newDemoCmd(), cli.DoctorCmd(checks))
		})
}
