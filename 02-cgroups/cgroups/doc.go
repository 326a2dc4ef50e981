// Package cgroups is lesson 02 of minibox: it limits what a container may
// use (memory, CPU, processes, I/O) with control groups, and reads back what
// it used.
//
// Namespaces decide what a process can see; cgroups decide how much it can
// take. A cgroup is a directory in a special filesystem: writing a number
// into one of its files sets a limit, writing a PID into cgroup.procs moves a
// process in, and reading the other files tells what the group used.
//
// Linux has two layouts, and this package drives both through one Manager:
//
//   - v1 (legacy): one hierarchy per controller, each mounted on its own
//     directory (/sys/fs/cgroup/memory, /sys/fs/cgroup/cpu, ...); a
//     container has one directory in each.
//   - v2 (unified, Ubuntu 22.04+ and the course VM): one tree; a container
//     has one directory, and a parent must list the controllers its children
//     may use in cgroup.subtree_control.
//
// The story, in the order Run does it: the flags are parsed into
// spec.Linux.Resources (resources.go), the values are converted to what each
// layout's files expect (convert.go), the Manager creates the cgroup under
// minibox's own prefix and writes the limits (v1_linux.go, v2_linux.go), the
// container's init is put into it before it runs anything of the user's
// (run_linux.go), and at the end the kernel's counters say whether the OOM
// killer struck, before every process is killed and the cgroup removed.
package cgroups
