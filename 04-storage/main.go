// Command 04-storage is minibox as of lesson 04: a container engine over
// lessons 01-03. Containers are things now, with IDs, names, state, logs
// and a monitor each, and Docker's commands to work with them; their root
// filesystems are image layers under a copy-on-write layer of their own,
// and volumes outlive them.
//
//	sudo go run ./04-storage run -d --name web busybox httpd -f
//	sudo go run ./04-storage ps -a
//	sudo go run ./04-storage logs -f web
//	sudo go run ./04-storage rm -f web
//	sudo go run ./04-storage demo
//	sudo go run ./04-storage doctor
package main

import (
	"minibox/01-namespaces/cli"
	"minibox/02-cgroups/cgroups"
	"minibox/04-storage/commands"
	"minibox/internal/doctor"
)

func main() {
	checks := func() []doctor.Check { return append(doctor.Base(), cgroups.DoctorChecks()...) }
	commands.Main("minibox", "minibox: a small Docker without a daemon (lessons 01-04)", commands.Lesson04,
		newDemoCmd(), cli.DoctorCmd(checks))
}
