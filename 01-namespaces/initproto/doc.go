// Package initproto is the protocol between lesson 01's runtime
// (namespaces.Start) and the container's init (namespaces.Init), and the
// points where later lessons plug into it. Lesson 01 itself needs none of
// it beyond the plain spec hand-over; read package namespaces first.
//
// What a later lesson adds, and where:
//
//   - Outside, before clone: a StartOption changes how the init is cloned
//     (lesson 02: IntoCgroup; lesson 03: Detached, InDir, WithFiles for the
//     exec FIFO and the console socket).
//   - Outside, after Release: Hooks.Released (lesson 03: take the pty
//     master the init sent).
//   - Outside, data for the init: namespaces.Container.Extra travels after
//     the spec (SendSpec); inside, Extra decodes it (lesson 03: the OCI
//     state its hooks read).
//   - Inside, after the namespaces are set up: each Step in turn (lesson
//     03: the root filesystem, the console, capabilities and seccomp).
//   - Inside, right before the command: the Gate (lesson 03: wait for the
//     OCI `start`) and AtExec (lesson 03: the rlimits that would bind the Go
//     init itself, set by a raw prlimit between preparing execve's arguments
//     and the raw execve).
//
// The descriptors the init finds open: 0-2 the container's stdio, 3-5 lesson
// 01's own (the spec pipe, the error pipe, our binary), and from ExtraFd on
// the files given with WithFiles.
package initproto
