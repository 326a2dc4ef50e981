// Command minibox is the complete tool: every lesson wired (01-07).
// Each later lesson wires its implementations (commands.Lesson06 is lesson
// 06's) and adds its commands.
//
//	sudo go run ./cmd/minibox run -d --name web -p 8080:80 busybox httpd -f -p 80
//	sudo go run ./cmd/minibox build -t hello .
//	sudo go run ./cmd/minibox pull 127.0.0.1:5000/hello
//	sudo go run ./cmd/minibox network ls
//	sudo go run ./cmd/minibox rm -f web
//	sudo go run ./cmd/minibox compose -f 07-compose/examples/finale/compose.yaml up -d --build
package main

import (
	"github.com/spf13/cobra"

	lesson04 "minibox/04-storage/commands"
	lesson05 "minibox/05-network/commands"
	"minibox/05-network/network"
	lesson06 "minibox/06-image/commands"
	"minibox/07-compose/commands"
)

func main() {
	if network.IsResolver() {
		network.RunResolver()
	}
	n := lesson05.Install()
	i := lesson06.Install()
	x := commands.Install()
	lesson04.MainCLI("minibox", "minibox: a small Docker without a daemon (lessons 01-07)", commands.Lesson07,
		func(c *lesson04.CLI) []*cobra.Command {
			return append(append(n.Commands(c), i.Commands(c)...), x.Commands(c)...)
		})
}
