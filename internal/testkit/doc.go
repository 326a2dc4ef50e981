// Package testkit is the one place where minibox's tests meet the machine:
// the root check that CI turns from a skip into a failure, feature probes,
// the busybox root filesystem that later lessons run, and the residue
// snapshot that proves a test left no mounts, links, namespaces, cgroups or
// processes behind.
package testkit
