// Package seccomp is the last lock of lesson 03: it limits which system
// calls a container may make at all (the lecture's point "restricts access
// to system calls").
//
// Namespaces hide things and capabilities take away privileges, but every
// process still talks to one shared kernel through about 450 system calls,
// and each of them is attack surface. seccomp(2) lets a thread install a
// small BPF program that the kernel runs on every system call: it looks at
// the call's number and arguments and allows it, fails it with an errno, or
// kills the caller. Docker ships a default profile that allows the ~350
// calls ordinary programs use and fails the rest (mount, keyctl, kexec,
// module loading, new namespaces...) with EPERM; Default is that profile,
// Load reads one in Docker's JSON format, and Apply installs it on the
// thread that is about to execve(2) the container's command.
package seccomp
