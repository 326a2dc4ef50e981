// Package namespaces is lesson 01 of minibox: it runs a process in new Linux
// namespaces, the way every container runtime starts a container.
//
// The story, in the order the code runs:
//
//  1. The caller describes the container as an OCI runtime spec
//     (specs.Spec, the config.json that runc reads; NewSpec in spec.go).
//     Lesson 01 uses only Hostname, Process and Linux.Namespaces (plus the
//     UID/GID mappings of a user namespace).
//  2. Start (run_linux.go) turns spec.Linux.Namespaces into clone(2) flags
//     and starts a copy of this very binary (/proc/self/exe) with them: the
//     kernel creates the namespaces at the moment the child is born. A
//     namespace given by path is joined with setns(2) instead
//     (join_linux.go).
//  3. The child notices it is the container's init (IsInit, Init in
//     init_linux.go), waits for the parent to send it the spec (Release),
//     then sets the hostname, makes every mount private, mounts a fresh
//     /proc for the new PID namespace, brings up the loopback link and
//     finally execve(2)s the user's command, which becomes PID 1. With
//     --init our own small init stays PID 1 instead and reaps
//     (reaper_linux.go).
//  4. The parent forwards signals to the container and turns the way the
//     container ended into an exit status (128+N when killed by signal N).
//
// Inspect and List (inspect_linux.go) show which namespaces a process is in,
// as lsns does.
//
// Later lessons plug into the gap between steps 2 and 3, while the child is
// blocked until Release: lesson 02 puts it into a cgroup, lesson 03 prepares
// its root filesystem. Those extension points (start options, init steps, a
// gate before the command, descriptors and data passed to the init) live in
// package initproto, so that this package stays the lesson.
package namespaces
