// Package namespaces is lesson 01 of minibox: it runs a process in new Linux
// namespaces, the way every container runtime starts a container.
//
// The story, in the order the code runs:
//
//  1. The caller describes the container as an OCI runtime spec
//     (specs.Spec, the config.json that runc reads). Lesson 01 uses only
//     Hostname, Process and Linux.Namespaces (plus the UID/GID mappings of
//     a user namespace).
//  2. Start turns spec.Linux.Namespaces into clone(2) flags and starts a
//     copy of this very binary (/proc/self/exe) with them: the kernel creates
//     the namespaces at the moment the child is born.
//  3. The child notices it is the container's init (Init), waits for the
//     parent to send it the spec, then sets the hostname, makes every mount
//     private, mounts a fresh /proc for the new PID namespace, brings up the
//     loopback link and finally execve(2)s the user's command, which becomes
//     PID 1. With --init our own small init stays PID 1 instead and reaps.
//  4. The parent forwards signals to the container and turns the way the
//     container ended into an exit status (128+N when killed by signal N).
//
// Lessons 02 and 03 hook into the gap between steps 2 and 3: the child is
// blocked until Release, so a cgroup can be joined or a root filesystem
// prepared before any of the user's code runs.
package namespaces
