// Package portmap publishes a container's ports on the host: `-p`, `-P` and
// `--expose` read as Docker reads them, and a userland proxy that carries
// the traffic, as Docker's docker-proxy does.
//
// A container on a bridge lives in its own network namespace: its port 80
// is a socket in that namespace, out of reach of anyone who connects to
// the host's address. Publishing makes a host port lead to it. There are two
// ways, and Docker uses both:
//
//   - DNAT: a netfilter rule rewrites the destination of packets that arrive
//     for the host port into the container's IP and port. The kernel does
//     the work and the container sees the client's real address, but
//     traffic from the host itself to 127.0.0.1 never crosses the
//     PREROUTING hook and needs route_localnet and a masquerade rule.
//   - A userland proxy: a process in the host's namespace listens on the
//     host port and, for every connection (TCP) or client (UDP), opens one
//     of its own to the container and copies bytes both ways. It works from
//     127.0.0.1, from the host's other addresses and from other containers
//     alike, and binding the listening socket is the kernel's own answer to
//     "is this port free?". The price: a copy through user space, and the
//     container sees the proxy's address, not the client's.
//
// minibox takes the proxy: Listen binds every published port before the
// container is created, so a port that anything on the host already holds
// fails the run with Docker's "port is already allocated", and nothing is
// left behind. The container's monitor owns the Proxy for the container's
// life.
//
// TCP is a byte stream with two directions that end separately: when the
// client shuts down its writing side (shutdown(2) SHUT_WR, a FIN), the
// proxy passes that on to the container with CloseWrite and keeps reading
// the answer. UDP has no connections, so the proxy keeps a session per
// client address (a connected socket towards the container, whose replies
// go back to that client) and forgets it after a time without traffic, as
// conntrack does for NAT.
package portmap
