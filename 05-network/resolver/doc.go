// Package resolver is the DNS server of a user-defined network, and the two
// files that tell a container where names come from: /etc/resolv.conf and
// /etc/hosts.
//
// Why a server of our own: the default bridge gives a container only a copy
// of the host's resolv.conf, so containers know each other by IP alone (the
// lecture's "no service discovery"). On a user-defined network Docker points
// the container at an embedded server (127.0.0.11, inside the container's
// netns, run by dockerd); podman runs aardvark-dns on the network's gateway.
// minibox has no daemon, so it follows podman: one resolver process per
// network, listening on the gateway's address, port 53, UDP and TCP, in the
// host's netns, started with the network's first container and stopped with
// its last.
//
// The server answers each query by its source address: a packet from
// 172.18.0.5 comes from the container that owns that address, and it learns
// the names (container name, aliases, short ID) of the containers that share
// a network with it, and nothing else. An address the records do not know
// is refused (REFUSED), so the resolver is no open resolver for the host's
// other neighbours. A name that is not ours goes to the upstream servers (the
// host's resolv.conf nameservers, or --dns), in turn, and their answer goes
// back as it is: the container sees the outside world's DNS unchanged.
//
// The records come from an interface (Records) that the network package
// implements by reading its state from disk at every query, so a container
// that starts or leaves is seen at once, with no signal to the resolver.
package resolver
