// Package images is lesson 04's local image store: what `import`, `commit`,
// `images`, `tag` and `rmi` work on, and the engine.Images that `run` asks
// for an image.
//
// An image is three kinds of thing, as the OCI image-spec has it: layers
// (tar streams, kept unpacked by diffID in the layer store of package
// storage, and kept as blobs too, byte for byte, since a digest names
// bytes: see PutLayer), a config (the JSON that says how to run it and lists the
// layers' diffIDs, bottom first) and a manifest (the JSON that points at
// the config and the layers by digest). Configs and manifests are blobs
// named by their sha256; the image's ID is its config's digest, which is
// why two imports of one tar at different moments are two images (the
// config holds the time) sharing one layer (the tar's bytes are the same).
// A name such as busybox is short for docker.io/library/busybox:latest; the
// index maps such full names to manifests. Lesson 06 adds registries (pull,
// push), save/load and the builder on the same store: AddImage takes a
// manifest of any kind as the registry's bytes, a layer record lists each
// layer's blob forms and where they came from, and an image built or
// committed on another records it as its parent.
package images
