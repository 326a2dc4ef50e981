// Package build is lesson 06's image builder: it reads a Dockerfile and
// turns it into an image, one instruction at a time, as Docker's classic
// builder (the one before BuildKit) does.
//
// Every instruction makes an image of its own, a child of the one before:
// RUN starts a container from the current image and keeps the diff of its
// upper directory as a new layer (lesson 04's WriteTar); COPY, ADD and
// WORKDIR change a snapshot of the image without a process; every other
// instruction only edits the config and adds an empty layer to the history.
// These step images are untagged; `images -a` shows them.
//
// Because every step is an image, a step can be skipped when an image for
// it exists already: the build cache. Its key (CacheKey) is the parent
// image, the config the step produces and the history line that tells what
// the step did. COPY and ADD put the checksum of their files into that
// line, so they see a changed file; RUN puts only its command text there,
// so `RUN apt-get update` is never run again until something before it
// changes or --no-cache is given. The first miss turns the cache off for
// the rest of the stage, since every later step has a new parent anyway.
//
// The package runs no process itself: RUN goes through an Executor and the
// snapshot work through Snapshots, both implemented over the engine by
// 06-image/commands, and faked in this package's tests. The Dockerfile
// syntax is 06-image/dockerfile's (BuildKit's parser), and the build
// context with its .dockerignore and safe copying is 06-image/buildctx's.
package build
