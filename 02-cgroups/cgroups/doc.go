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
// Everything minibox makes lives under Prefix (/minibox): /minibox/<id> is
// one container. Outside it minibox writes a single file, and only on v2:
// a controller reaches /minibox only if the root cgroup hands it down, so
// when the root's cgroup.subtree_control lacks one of cpu, cpuset, memory,
// pids or io, minibox adds it there ("+cpuset"). It never takes one away
// (other cgroups may use it), and on a systemd machine, where the root
// usually hands them all down already, it writes nothing there at all.
//
// A container's own directory is made with one mkdir(2), which fails when
// the directory exists: two containers that ask for the same cgroup can
// never both get it (deleting one would kill the other).
//
// The story, in the order Run does it: the flags are parsed into
// spec.Linux.Resources (resources.go), the values are converted to what each
// layout's files expect (convert.go), the Manager creates the cgroup under
// minibox's own prefix and writes the limits (v1_linux.go, v2_linux.go), the
// container's init is put into it before it runs anything of the user's
// (run_linux.go), and at the end the kernel's counters say whether the OOM
// killer struck, before every process is killed and the cgroup removed.
package cgroups
