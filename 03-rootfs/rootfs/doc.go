// Package rootfs is lesson 03 of minibox: it gives a container a root
// filesystem of its own and takes away the powers its root must not have.
//
// Lessons 01 and 02 built a process that has its own namespaces and limits
// but still sees every file of the host. This lesson adds the two steps that
// make it a container, as runc does them inside its `runc init`. Both are
// initproto.Step values that lesson 01's init runs after its own setup and
// before it executes the command:
//
//	namespaces.InitWithGate(rootfs.LateRlimits, rootfs.Setup, rootfs.Finish)
//
// Setup (the files):
//
//  1. bind-mount spec.Root onto itself: pivot_root(2) moves mounts, so the
//     new root must be one;
//  2. mount spec.Mounts inside it: proc, sysfs, a tmpfs /dev with a private
//     devpts, /dev/shm, /dev/mqueue, bind mounts of host directories
//     (DefaultMounts is Docker's list), parsing options as runc does;
//  3. create /dev/null, zero, full, random, urandom and tty and the links
//     programs expect;
//  4. pivot_root into the new root and detach the old one: unlike chroot,
//     this leaves nothing of the host in the mount namespace to escape to;
//  5. sysctls, read-only and masked paths in /proc and /sys, the working
//     directory, and a read-only root on request.
//
// Finish (the powers), last, on the thread that will execve the command:
// resource limits (those that would bind the Go init itself, such as its
// address space, wait for LateRlimits, right before execve), the capability bounding set, the user and its groups
// (LookupUser reads them from the image's /etc/passwd and /etc/group),
// the remaining capability sets (DefaultCapabilities is Docker's list) and
// no_new_privs.
//
// Every mount, unmount and pivot_root goes through one small wrapper that
// reports failures as a *MountError naming the call, paths and flags.
package rootfs
