// Package testkit is the one place where minibox's tests meet the machine:
// the root check that CI turns from a skip into a failure, feature probes,
// the busybox root filesystem that later lessons run, the residue snapshot
// that proves a test left no mounts, links, namespaces, cgroups, processes or
// firewall changes behind, and the network sandbox: a namespace that plays
// the host (with an "outside" behind it) so network tests never touch the
// real host's links and firewall.
package testkit
