package commands

import (
	"errors"
	"fmt"
	"strings"

	"minibox/04-storage/images"
	"minibox/06-image/registry"
)

// The pure parsers of lesson 06's flags. Each takes what the user typed and
// returns either the value or an error with Docker's wording; none touches
// the machine, so a bad flag never leaves anything half-done.

// Pull policies of run, create and build --pull (Docker's names).
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
)

// parsePullPolicy checks --pull's value. Docker also takes the empty
// string as the default, which is "missing".
func parsePullPolicy(s string) (string, error) {
	switch s {
	case "", PullMissing:
		return PullMissing, nil
	case PullAlways, PullNever:
		return s, nil
	}
	return "", fmt.Errorf("invalid pull option: '%s': must be one of %q, %q or %q", s, PullAlways, PullMissing, PullNever)
}

// parseBuildArgs turns --build-arg values into the builder's map: KEY=VALUE
// is VALUE; a bare KEY takes the value of the environment variable KEY
// when it is set (lookup), and is otherwise declared without a value (nil),
// as Docker's CLI does.
func parseBuildArgs(vals []string, lookup func(string) (string, bool)) (map[string]*string, error) {
	out := map[string]*string{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid argument %q for \"--build-arg\" flag: invalid environment variable: %s", v, v)
		}
		if strings.ContainsAny(k, " \t\n") {
			return nil, fmt.Errorf("invalid argument %q for \"--build-arg\" flag: variable '%s' contains whitespaces", v, k)
		}
		if !ok {
			if env, found := lookup(k); found {
				val, ok = env, true
			}
		}
		if ok {
			s := val
			out[k] = &s
		} else {
			out[k] = nil
		}
	}
	return out, nil
}

// parseLabels turns --label KEY=VALUE values (a bare KEY is an empty value)
// into a map; Docker refuses an empty key and a key with white space.
func parseLabels(vals []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vals {
		k, val, _ := strings.Cut(v, "=")
		k = strings.TrimLeft(k, " \t\n\r\v\f")
		if k == "" {
			return nil, fmt.Errorf("invalid argument %q for \"--label\" flag: invalid label '%s': empty name", v, v)
		}
		if strings.ContainsAny(k, " \t\n\r\v\f") {
			return nil, fmt.Errorf("invalid argument %q for \"--label\" flag: label '%s' contains whitespaces", v, k)
		}
		out[k] = val
	}
	return out, nil
}

// parseTags checks build's -t values: each a name[:tag] (no digest, which a
// build cannot make), normalised by Docker's rules; duplicates once.
func parseTags(vals []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, v := range vals {
		if strings.Contains(v, "@") {
			return nil, fmt.Errorf("invalid argument %q for \"-t, --tag\" flag: invalid reference format", v)
		}
		r, err := images.ParseReference(v)
		if err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"-t, --tag\" flag: %w", v, err)
		}
		if !seen[r.String()] {
			seen[r.String()] = true
			out = append(out, v)
		}
	}
	return out, nil
}

// loginServer turns login's and logout's SERVER argument into the
// registry's wire host and the config.json key its credentials go under
// (registry.LoginHost and AuthKey: none is Docker Hub, a URL keeps its
// host only, as Docker's ConvertToHostname). An address that names no
// host is refused.
func loginServer(arg string) (host, key string, err error) {
	s := strings.TrimSpace(arg)
	if s != "" && registry.Hostname(s) == "" || strings.ContainsAny(s, " \t\n@") {
		return "", "", fmt.Errorf("invalid registry address %q", arg)
	}
	return registry.LoginHost(s), registry.AuthKey(s), nil
}

// loginFlags are login's -u, -p and --password-stdin.
type loginFlags struct {
	user, password string
	passwordStdin  bool
	passwordSet    bool // -p given (even empty)
}

// check applies Docker's rules to login's flags: --password-stdin needs
// --username and excludes --password; -p warns (returned as warn).
func (f loginFlags) check() (warn bool, err error) {
	if f.passwordStdin && f.passwordSet {
		return false, errors.New("--password and --password-stdin are mutually exclusive")
	}
	if f.passwordStdin && f.user == "" {
		return false, errors.New("Must provide --username with --password-stdin")
	}
	return f.passwordSet, nil
}

// readPasswordStdin is --password-stdin's value: the input with its
// trailing newline (and carriage return) cut, as Docker's CLI does.
func readPasswordStdin(data string) string {
	data = strings.TrimSuffix(data, "\n")
	return strings.TrimSuffix(data, "\r")
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
