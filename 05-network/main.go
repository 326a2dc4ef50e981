// Command 05-network is minibox as of lesson 05: lesson 04's engine with
// networks. Containers get a network namespace of their own on the
// default bridge (minibox0) or on networks made with `network create`,
// find each other by name there through a resolver per network, and
// publish ports to the host.
//
//	sudo go run ./05-network network create appnet
//	sudo go run ./05-network run -d --name web --network appnet busybox httpd -f -p 80
//	sudo go run ./05-network run --rm --network appnet busybox wget -qO- http://web/
//	sudo go run ./05-network run -d -p 8080:80 --name pub busybox httpd -f -p 80
//	sudo go run ./05-network port pub
//	sudo go run ./05-network demo
//	sudo go run ./05-network doctor
package main

import (
	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/02-cgroups/cgroups"
	lesson04 "minibox/04-storage/commands"
	"minibox/05-network/commands"
	"minibox/05-network/network"
	"minibox/internal/doctor"
)

func main() {
	if network.IsResolver() {
		network.RunResolver() // a user network's resolver (never returns)
	}
	n := commands.Install()
	checks := func() []doctor.Check {
		return append(append(doctor.Base(), cgroups.DoctorChecks()...), commands.DoctorChecks()...)
	}
	lesson04.MainCLI("minibox", "minibox: a small Docker without a daemon (lessons 01-05)", commands.Lesson05,
		func(c *lesson04.CLI) []*cobra.Command {
			return append(n.Commands(c), newDemoCmd(), cli.DoctorCmd(checks))
		})
}
