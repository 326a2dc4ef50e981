// Package registry speaks the registry's HTTP API (the OCI distribution
// spec, /v2/): the ping that tells how to authenticate, the token dance,
// manifests by tag or digest, blobs by digest (HEAD to ask, GET to fetch),
// and the push protocol (POST an upload, or a cross-repository mount;
// PATCH the bytes; PUT with ?digest= to commit; PUT the manifest last).
//
// It is the adapter of github.com/google/go-containerregistry: gcr's
// transport package does the ping, the Basic and Bearer (token) schemes and
// the scheme fallback, and this package makes each request itself, so the
// protocol stays visible here. No gcr type is exported. Transport security
// follows Docker: https always, with the CAs of certs.d/HOST:PORT/*.crt
// added to the system's and client certificates from *.cert/*.key; plain
// http only for loopback, localhost, or hosts named as insecure. Docker Hub
// is "docker.io" in names, registry-1.docker.io on the wire, and
// "https://index.docker.io/v1/" as its key in config.json.
package registry
