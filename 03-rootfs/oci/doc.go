// Package oci is the runc-compatible side of lesson 03: the lifecycle of
// the OCI runtime specification over bundles, so that containerd, Podman or
// the spec's own conformance suite can drive minibox as they drive runc.
//
// A bundle is a directory with config.json (an OCI spec) and the root
// filesystem it names. The lifecycle splits `run` in two, so that a caller
// can act between "everything is set up" and "the program runs" (containerd
// plugs in the network there, through a hook or from outside):
//
//	create ID   clone the init into new namespaces and a cgroup; it sets up
//	            the root filesystem and security, then waits at a gate
//	start ID    open the gate: the init executes the program
//	state ID    the state JSON: creating, created, running or stopped
//	kill ID SIG signal the init
//	delete ID   remove what is left of a stopped container
//
// Across these separate runtime processes the container lives in a state
// directory (--root, /run/minibox by default), one directory per container:
// state.json (pid, bundle, status, the init's start time), config.json (the
// spec as it was at create: later edits of the bundle change nothing) and
// exec.fifo, the gate. The init holds the FIFO's read end and waits for
// something to arrive; `start` writes one byte into it and removes it. So
// "created" is "the init is alive and the FIFO still exists", and "stopped"
// is "the init is gone": nobody has to wait for the container to notice.
package oci
