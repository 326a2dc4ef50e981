// Command 04-storage is minibox as of lesson 04: a container engine over
// lessons 01-03. Containers are things now, with IDs, names, state, logs
// and a monitor each, and Docker's commands to work with them.
//
//	sudo go run ./04-storage run -d --name web busybox httpd -f
//	sudo go run ./04-storage ps -a
//	sudo go run ./04-storage logs -f web
//	sudo go run ./04-storage rm -f web
package main

import "minibox/04-storage/commands"

func main() {
	commands.Main("minibox", "minibox: a small Docker without a daemon (lessons 01-04)", commands.Lesson04)
}
