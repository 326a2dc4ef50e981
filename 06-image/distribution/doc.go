// Package distribution is `pull` and `push`: it moves images between the
// local store (04-storage/images) and a registry (06-image/registry), and
// prints what Docker prints while doing it.
//
// A pull resolves the name to a manifest (for a multi-platform index, the
// one manifest of this machine's platform, image.SelectPlatform), reads the
// config, and fetches each layer blob the store lacks, up to three at once,
// into the content store, where a blob appears only whole and only with the
// digest the manifest names. Layers are then unpacked bottom first, each
// one's tar checked against the config's diffID (image.Unpack), and the
// image is added with the manifest's bytes as the registry sent them, so
// its digest (RepoDigests) is the registry's.
//
// A push uploads what the registry lacks: each layer (HEAD first: "Layer
// already exists"; a blob the store saw in another repository of the same
// registry is mounted from it, no bytes sent; else the upload), the config,
// and the manifest last, since a registry accepts a manifest only once all
// it names is there. Layers made here are kept as plain tars; they are
// gzipped once for a push (a fixed header: no name, mtime 0, so the same
// tar gives the same blob) and the gzip form is recorded beside the tar, so
// the next push of any image with that layer reuses it.
package distribution
