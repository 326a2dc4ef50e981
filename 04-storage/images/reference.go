package images

import (
	"fmt"
	"strings"
)

// Reference is a normalized image name: Domain/Path:Tag, as Docker
// normalizes it (busybox = docker.io/library/busybox:latest).
type Reference struct {
	Domain string // docker.io, localhost:5000, registry.example.com
	Path   string // library/busybox, user/app
	Tag    string // latest when none was given
}

// String is the full form, docker.io/library/busybox:latest.
func (r Reference) String() string { return r.Domain + "/" + r.Path + ":" + r.Tag }

// Repository is the full name without the tag.
func (r Reference) Repository() string { return r.Domain + "/" + r.Path }

// Familiar is the repository as Docker shows it: docker.io/library/x is x,
// docker.io/u/x is u/x.
func (r Reference) Familiar() string {
	if r.Domain != "docker.io" {
		return r.Repository()
	}
	return strings.TrimPrefix(r.Path, "library/")
}

// FamiliarString is Familiar():Tag, what `images` and messages show.
func (r Reference) FamiliarString() string { return r.Familiar() + ":" + r.Tag }

// ParseReference reads NAME[:TAG] by Docker's rules: the first component
// is a registry when it holds a '.' or a ':' or is "localhost"; otherwise
// the registry is docker.io, and a one-component name is in library/.
// Names are lowercase components of [a-z0-9] joined by '.', '_', '__' or
// runs of '-'; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. A digest
// (NAME@sha256:...) is not a tag reference: see Resolve.
func ParseReference(s string) (Reference, error) {
	bad := func(why string) error {
		if why == "" {
			return fmt.Errorf("invalid reference format: %q", s)
		}
		return fmt.Errorf("invalid reference format: %s", why)
	}
	if s == "" || len(s) > 4096 || strings.Contains(s, "@") {
		return Reference{}, bad("")
	}
	name, tag := s, "latest"
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i+1:], "/") {
		name, tag = s[:i], s[i+1:]
		if !validTag(tag) {
			return Reference{}, bad("")
		}
	}
	domain, path := "docker.io", name
	if i := strings.Index(name, "/"); i >= 0 {
		first := name[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			domain, path = first, name[i+1:]
			if !validDomain(domain) {
				return Reference{}, bad("")
			}
		}
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if path != strings.ToLower(path) {
		return Reference{}, bad(fmt.Sprintf("repository name (%s) must be lowercase", path))
	}
	for _, c := range strings.Split(path, "/") {
		if !validComponent(c) {
			return Reference{}, bad("")
		}
	}
	if domain == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	r := Reference{Domain: domain, Path: path, Tag: tag}
	if len(r.Repository()) > 255 {
		return Reference{}, bad("repository name must not be more than 255 characters")
	}
	return r, nil
}

func alnum(r byte) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' }

// validComponent: [a-z0-9]+ (([._]|__|[-]+)[a-z0-9]+)*
func validComponent(c string) bool {
	if c == "" || !alnum(c[0]) || !alnum(c[len(c)-1]) {
		return false
	}
	for i := 0; i < len(c); i++ {
		if alnum(c[i]) {
			continue
		}
		j := i
		for j < len(c) && !alnum(c[j]) {
			j++
		}
		sep := c[i:j]
		if !(sep == "." || sep == "_" || sep == "__" || strings.Trim(sep, "-") == "") {
			return false
		}
		i = j - 1
	}
	return true
}

func validTag(t string) bool {
	if t == "" || len(t) > 128 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || i > 0 && (c == '.' || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

func validDomain(d string) bool {
	host, port, hasPort := strings.Cut(d, ":")
	if host == "" || hasPort && (port == "" || strings.Trim(port, "0123456789") != "") {
		return false
	}
	for _, part := range strings.Split(host, ".") {
		if part == "" || part[0] == '-' || part[len(part)-1] == '-' {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// isHex reports whether s is lowercase hex digits only.
func isHex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789abcdef") == ""
}
