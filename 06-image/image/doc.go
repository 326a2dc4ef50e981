// Package image is lesson 06's hand-written image work on top of lesson
// 04's store (package images): what an image's history and inspect output
// are made of, how `save` writes an image as Docker 25 does and `load`
// reads it back (both the docker-archive manifest.json and the OCI image
// layout), how a multi-arch index is narrowed to one platform, and how a
// pulled layer's blob becomes an unpacked layer whose diffID must match
// the config's.
//
// Why by hand: these are the parts where an image's identity lives. The
// ID is the config's digest, a layer is named twice (its blob's digest in
// the manifest, its tar's digest in the config), and an archive or a
// registry is trusted only as far as those digests check out. A library
// would hide exactly what the lesson is about.
package image
