// Package ocicli is the command line of lesson 03's OCI runtime, the one a
// shim drives as containerd's drives runc:
//
//	RUNTIME --root DIR create --bundle B --pid-file F [--console-socket S] ID
//	RUNTIME --root DIR start ID | state ID | kill ID SIG | delete [--force] ID
//	RUNTIME --root DIR exec [--process FILE] [-t] [-d] [--pid-file F] ID [CMD ARGS...]
//
// Lesson 03's program puts these commands at its top level; a later program
// (the engine's) mounts the same ones under a hidden `runtime` command. A
// program that hosts them calls MaybeInit first thing in main: the
// runtime re-executes its own binary as the container's init and as the
// process that `exec` starts in a running container.
package ocicli
