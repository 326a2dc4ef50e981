// Command minibox is the complete tool: every lesson wired (so far 01-06).
// Each later lesson wires its implementations (commands.Lesson06 is lesson
// 06's) and adds its commands.
//
//	sudo go run ./cmd/minibox run -d --name web -p 8080:80 busybox httpd -f -p 80
//	sudo go run ./cmd/minibox build -t hello .
//	sudo go run ./cmd/minibox pull 127.0.0.1:5000/hello
//	sudo go run ./cmd/minibox network ls
//	sudo go run ./cmd/minibox rm -f web
package main

import (
	"github.com/spf13/cobra"

	lesson04 "minibox/04-storage/commands"
	lesson05 "minibox/05-network/commands"
	"minibox/05-network/network"
	"minibox/06-image/commands"
)

func main() {
	if network.IsResolver() {
		network.RunResolver()
	}
	n := lesson05.Install()
	i := commands.Install()
	lesson04.MainCLI("minibox", "minibox: a small Docker without a daemon (lessons 01-06)", commands.Lesson06,
		func(c *lesson04.CLI) []*cobra.Command { return append(n.Commands(c), i.Commands(c)...) })
}
