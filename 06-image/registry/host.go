package registry

import (
	"fmt"
	"net"
	"strings"

	"minibox/04-storage/images"
)

const (
	// HubHost is Docker Hub's API host, what "docker.io" means on the wire.
	HubHost = "registry-1.docker.io"
	// HubAuthKey is Docker Hub's key in config.json, a leftover of the v1 API.
	HubAuthKey = "https://index.docker.io/v1/"
)

// HostOf is the host to connect to for ref's registry: docker.io is
// registry-1.docker.io; any other domain is itself (host[:port]).
func HostOf(ref images.Reference) string { return wireHost(ref.Domain) }

func wireHost(domain string) string {
	switch domain {
	case "docker.io", "index.docker.io", HubHost:
		return HubHost
	}
	return domain
}

// AuthKey is the key under which config.json keeps the credentials of a
// registry given as the user wrote it ("", "docker.io", "localhost:5000",
// "https://index.docker.io/v1/", "https://host:5000/v2/"): Docker Hub's
// names all give HubAuthKey, anything else its host[:port].
func AuthKey(server string) string {
	h := Hostname(server)
	if h == "" || wireHost(h) == HubHost {
		return HubAuthKey
	}
	return h
}

// Hostname strips a scheme and a path from a server as the user gave it,
// as Docker's ConvertToHostname does: "https://host:5000/v2/" is
// "host:5000". An empty server stays empty (Docker Hub).
func Hostname(server string) string {
	s := strings.TrimSpace(server)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s, _, _ = strings.Cut(s, "/")
	return strings.ToLower(strings.TrimSpace(s))
}

// LoginHost is the wire host for `login SERVER`.
func LoginHost(server string) string {
	if AuthKey(server) == HubAuthKey {
		return HubHost
	}
	return Hostname(server)
}

// splitRepo splits a full repository name ("docker.io/library/busybox",
// "127.0.0.1:5000/app") into its wire host and its path on that host.
func splitRepo(repo string) (host, path string, err error) {
	ref, err := images.ParseReference(repo)
	if err != nil {
		return "", "", fmt.Errorf("repository %q: %w", repo, err)
	}
	if ref.Tag != "latest" || strings.HasSuffix(repo, ":latest") {
		// ParseReference accepts a tag; a repository has none.
		return "", "", fmt.Errorf("repository %q: a repository name has no tag", repo)
	}
	return HostOf(ref), ref.Path, nil
}

// mayUseHTTP: Docker's rule for plain http: 127.0.0.0/8 and ::1 (and
// localhost, which names them) always; otherwise only a host named in
// insecure, as host[:port] or as a CIDR holding the host's IP address.
func mayUseHTTP(host string, insecure []string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	ip := net.ParseIP(name)
	if name == "localhost" || ip != nil && ip.IsLoopback() {
		return true
	}
	for _, in := range insecure {
		if _, cidr, err := net.ParseCIDR(strings.TrimSpace(in)); err == nil {
			if ip != nil && cidr.Contains(ip) {
				return true
			}
			continue
		}
		if in = Hostname(in); in == host || in == name {
			return true
		}
	}
	return false
}
