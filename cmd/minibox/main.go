// Command minibox is the complete tool: every lesson wired (so far 01-05).
// Each later lesson wires its implementations (commands.Lesson05 is lesson
// 05's) and adds its commands.
//
//	sudo go run ./cmd/minibox run -d --name web -p 8080:80 busybox httpd -f -p 80
//	sudo go run ./cmd/minibox ps -a
//	sudo go run ./cmd/minibox network ls
//	sudo go run ./cmd/minibox rm -f web
package main

import (
	lesson04 "minibox/04-storage/commands"
	"minibox/05-network/commands"
	"minibox/05-network/network"
)

func main() {
	if network.IsResolver() {
		network.RunResolver()
	}
	n := commands.Install()
	lesson04.MainCLI("minibox", "minibox: a small Docker without a daemon (lessons 01-05)", commands.Lesson05, n.Commands)
}
