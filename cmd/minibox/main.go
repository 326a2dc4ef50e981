// Command minibox is the complete tool: every lesson wired (so far 01-04).
// Each later lesson wires its implementations (commands.Lesson04 is lesson
// 04's) and adds its commands.
//
//	sudo go run ./cmd/minibox run -d --name web busybox httpd -f
//	sudo go run ./cmd/minibox ps -a
//	sudo go run ./cmd/minibox logs -f web
//	sudo go run ./cmd/minibox rm -f web
package main

import "minibox/04-storage/commands"

func main() {
	commands.Main("minibox", "minibox: a small Docker without a daemon (lessons 01-04)", commands.Lesson04)
}
