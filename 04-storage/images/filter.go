package images

import (
	"fmt"
	"path"
	"strings"
)

// Filter is `docker images -f`: every condition given must hold; several
// values of one key (reference, label) match if any one does, as Docker's.
type Filter struct {
	Dangling   *bool    // dangling=true: only images with no tag; false: only tagged ones
	References []string // reference=PATTERN: a tag matches PATTERN (path.Match), "busybox" or "busybox:1.36"
	Labels     []string // label=KEY or label=KEY=VALUE
}

// ParseFilter reads `-f key=value` flags with Docker's keys.
func ParseFilter(args []string) (Filter, error) {
	var f Filter
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return f, fmt.Errorf("bad format of filter (expected name=value): %s", a)
		}
		switch k {
		case "dangling":
			switch strings.ToLower(v) {
			case "true", "1":
				t := true
				f.Dangling = &t
			case "false", "0":
				t := false
				f.Dangling = &t
			default:
				return f, fmt.Errorf("invalid filter 'dangling=%s'", v)
			}
		case "reference":
			if _, err := path.Match(v, ""); err != nil {
				return f, fmt.Errorf("invalid filter 'reference=%s': %w", v, err)
			}
			f.References = append(f.References, v)
		case "label":
			f.Labels = append(f.Labels, v)
		default:
			return f, fmt.Errorf("invalid filter '%s'", k)
		}
	}
	return f, nil
}

// Match reports whether the image s passes the filter.
func (f Filter) Match(s Summary) bool {
	if f.Dangling != nil && *f.Dangling != (len(s.RepoTags) == 0) {
		return false
	}
	if len(f.References) > 0 && !matchReference(f.References, s.RepoTags) {
		return false
	}
	for _, l := range f.Labels {
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := s.Labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}

// matchReference is Docker's reference filter: a pattern with a tag is
// matched against "name:tag", one without against the name alone.
func matchReference(patterns, tags []string) bool {
	for _, p := range patterns {
		for _, t := range tags {
			repo, _ := splitFamiliar(t)
			subject := repo
			if hasTag(p) {
				subject = t
			}
			if ok, _ := path.Match(p, subject); ok {
				return true
			}
		}
	}
	return false
}

// hasTag reports whether a familiar reference or pattern has a ":tag"
// after its last slash (a colon before it is a registry's port).
func hasTag(s string) bool {
	return strings.Contains(s[strings.LastIndex(s, "/")+1:], ":")
}

func splitFamiliar(t string) (repo, tag string) {
	if i := strings.LastIndex(t, ":"); i > strings.LastIndex(t, "/") {
		return t[:i], t[i+1:]
	}
	return t, "latest"
}
