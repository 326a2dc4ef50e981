// Command 07-compose is minibox as of lesson 07, the course's last: lesson
// 06's engine, whose monitor now restarts containers by their restart
// policy and runs their healthchecks, and `minibox compose`, docker
// compose's commands over a compose file: the project's networks, volumes
// and containers made in dependency order, kept when unchanged, recreated
// when their configuration changed, and removed by `down`.
//
//	cd 07-compose/examples/finale
//	sudo go run ../.. compose up -d --build
//	curl http://127.0.0.1:8080/cgi-bin/messages
//	sudo go run ../.. compose ps
//	sudo go run ../.. compose logs api
//	sudo go run ../.. compose down
//	sudo go run ./07-compose demo
package main

import (
	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/02-cgroups/cgroups"
	lesson04 "minibox/04-storage/commands"
	lesson05 "minibox/05-network/commands"
	"minibox/05-network/network"
	lesson06 "minibox/06-image/commands"
	"minibox/07-compose/commands"
	"minibox/internal/doctor"
)

func main() {
	if network.IsResolver() {
		network.RunResolver() // a user network's resolver (never returns)
	}
	n := lesson05.Install()
	i := lesson06.Install()
	x := commands.Install()
	checks := func() []doctor.Check {
		return append(append(doctor.Base(), cgroups.DoctorChecks()...), lesson05.DoctorChecks()...)
	}
	lesson04.MainCLI("minibox", "minibox: a small Docker without a daemon (lessons 01-07)", commands.Lesson07,
		func(c *lesson04.CLI) []*cobra.Command {
			cmds := append(n.Commands(c), i.Commands(c)...)
			return append(append(cmds, x.Commands(c)...), newDemoCmd(), cli.DoctorCmd(checks))
		})
}
