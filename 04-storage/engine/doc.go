// Package engine is minibox's container engine: what Docker splits into
// dockerd, containerd and the shim, without a daemon.
//
//	minibox CLI ──> engine ──> monitor (one process per container) ──> OCI runtime
//	                state, locks,  stdio/pty, json-file log, exit code,    create/start/state/
//	                names, images, --rm, restart policy, healthchecks      kill/delete on a bundle
//
// Containers are things: an ID, a name, a directory of state under the data
// root (/var/lib/minibox/containers/ID) and one under the exec root
// (/run/minibox/containers/ID: the bundle, the monitor's sockets). Every CLI
// command may run at the same moment as any other, so each container has a
// lock and every JSON file is written atomically.
//
// The engine drives the runtime through its command line, as containerd's
// shim drives runc, so any OCI runtime can run a minibox bundle. The monitor
// is this same binary re-executed, detached, so it outlives the CLI: it is
// the one process that waits for the container.
//
// Any process may be killed at any moment (crash.go): a container is built
// in a directory of its own and renamed into place when whole, removed by a
// rename away, and what a dead process left (its lock no longer held) is
// swept by the next command. A data root that is read-only or full is
// reported in words, with what to do.
//
// Restart policies (restart.go, lesson 07) live in the monitor too: it
// restarts its container with Docker's growing delay, and `system boot`
// (Engine.Boot) does at the host's boot what dockerd does at its start.
//
// The layers above lesson 03 plug in through the interfaces of api.go:
// Storage (lesson 04), Images (04, grown by 06) and Networks (05).
package engine
