// Package mounts reads the storage flags of `run` and `create` as Docker's
// CLI does: -v/--volume, --mount, --tmpfs and --volumes-from. It is pure:
// it checks the syntax and fills engine.HostConfig; whether a bind source
// exists or a volume is there is the storage's business when the container
// is created (package containerfs).
//
// The -v syntax is lesson 03's (runflags.ParseVolumeSpec), grown by lesson
// 04's named and anonymous volumes, so there is one parser of it.
package mounts
