// Package storage is lesson 04 of minibox: where a container's root
// filesystem comes from. Lesson 03 ran a container in any directory it was
// given; real images are not directories but stacks of layers, and a
// hundred containers of one image must not cost a hundred copies of it.
// (The lecture's slides on image layers and on storage drivers: overlay2,
// vfs, copy-on-write.)
//
// # A layer is a tar stream
//
// An image layer is an ordinary tar archive of the files that the layer
// adds or changes (a registry stores it gzip-compressed; the layer itself is
// the uncompressed tar). Its name is its diffID: the sha256 of the tar's
// bytes. The name says nothing about the layers below, so a stack is named
// by its chainID, the OCI image-spec's fold of the diffIDs from the bottom:
//
//	ChainID(L0)      = DiffID(L0)
//	ChainID(L0..Ln)  = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))
//
// Two images built FROM the same base share the chainIDs of the base's
// layers, which is how a store knows that a stack is there already.
//
// Extract unpacks a layer and computes its diffID while the bytes stream by.
// It is hand-written because it is the lesson, and because it is where
// container runtimes have had their worst bugs: a tar is untrusted input.
// An entry "../../etc/cron.d/x", an absolute name, a hard link to
// /etc/shadow, or a symlink "etc -> /etc" followed by an entry "etc/passwd"
// would, unpacked naively as root, write the host's files. Extract refuses
// names that climb out and resolves every other name with openat2(2)
// RESOLVE_IN_ROOT, which makes the kernel treat the layer's directory as "/"
// for the whole walk, symlinks included. The fuzz target FuzzExtract checks
// that no input whatever writes outside.
//
// # Deleting in a layer: whiteouts
//
// A tar can add a file but cannot say "this file is gone". The convention
// (from AUFS, kept by the OCI image-spec) is a marker file: ".wh.motd" in
// /etc deletes the lower layers' /etc/motd, and ".wh..wh..opq" in a
// directory hides everything the layers below have in it. overlayfs, the
// kernel's union filesystem, spells the same two facts differently: a
// character device 0/0 named motd, and the xattr trusted.overlay.opaque=y
// on the directory. Extract converts the first spelling into the second,
// so an unpacked layer serves overlayfs as it is, and WriteTar converts
// back when a container's changes become a new layer. Changes lists those
// changes as `docker diff` prints them (A added, C changed, D deleted).
//
// # The store: one copy of each layer
//
// Store keeps every layer unpacked once, by diffID, under a root that is a
// field (tests use a temporary directory), and records who uses it, so
// that a layer is removed only when no image and no container needs it.
// Processes share a store safely: a layer is unpacked into a temporary
// directory and renamed into place under a file lock.
//
// # Copy-on-write: snapshotters
//
// A container needs a root it can write, yet the layers must stay
// read-only: they belong to every container of the image. A Snapshotter
// makes that root (this is the --storage-driver of Docker):
//
//   - Overlay mounts overlayfs with the image's layers as lowerdir and an
//     empty directory of the container's own as upperdir. Nothing is copied
//     until the container writes a file: then overlayfs copies it up into
//     upperdir first. A deletion leaves a whiteout in upperdir. The
//     container's changes are exactly upperdir, which is why `commit` is
//     cheap.
//   - VFS copies every layer into a directory of the container's own. It
//     works on any file system and shows, by contrast, what copy-on-write
//     saves (the tests measure both).
//
// One overlay detail is a lesson in itself: mount(2) copies at most one
// page (4096 bytes) of options, and with the layers' full paths a stack of
// about 40 layers does not fit. Docker's answer, used here too, is a
// directory of short symbolic links to the layers and a mount made with
// relative paths from inside the store's root. A Go program's threads share
// one working directory, so that mount runs on a thread that has left the
// sharing (unshare(CLONE_FS)) and dies afterwards. The tests mount 120
// layers.
package storage
