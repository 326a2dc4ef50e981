// Package buildctx is the build context of lesson 06's builder: the files
// COPY and ADD may read, and the copying itself.
//
// A context is a directory (or a tar on stdin) minus what .dockerignore
// hides. The ignore file's syntax (`**`, `!` exceptions, the last match
// wins) is moby's patternmatcher, used behind this package; no patternmatcher
// type leaves it. The Dockerfile and .dockerignore are always in the
// context, whatever .dockerignore says, as with Docker.
//
// The rest is hand-written because it is the lesson's, and because it is
// where builders get hurt: a Dockerfile and its context are untrusted input.
// `COPY ../secret /` is refused ("forbidden path outside the build
// context"); a symlink in the context (`evil -> /etc/shadow`) is followed
// inside the context only; and on the other side the image's root
// filesystem may hold symlinks too (`/app -> /etc`), so every destination
// name is resolved with openat2(2) RESOLVE_IN_ROOT, as 04-storage's Extract
// resolves a layer's names. Nothing is ever read or written outside the
// two directories.
//
// Checksum (lab 06.4) is the sources' part of the cache key: what lands in
// the image (names, types, modes, owners, link targets, contents), never
// the times, so a fresh checkout of the same files still hits the cache.
//
// Sources and the ignore file parse user input, so both are fuzzed:
// FuzzSources (no pattern names anything outside the context, whatever its
// symlinks) and FuzzIgnore (any .dockerignore: the Dockerfile stays, and
// nothing excluded is walked).
package buildctx
