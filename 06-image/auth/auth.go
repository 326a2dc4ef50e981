// Package auth reads and writes the credentials file, Docker's
// config.json: {"auths": {"KEY": {"auth": base64("user:password")}}}. The
// password is only encoded, not encrypted: that is why the file is 0600,
// why `login -p` warns, and why Docker has credential helpers (out of
// minibox's scope; a "credsStore" key is kept but not used).
//
// minibox writes its own file ($MINIBOX_CONFIG/config.json, else
// ~/.minibox/config.json) and also reads Docker's ($DOCKER_CONFIG/config.json,
// else ~/.docker/config.json) without ever writing it, so a `docker login`
// is enough. Keys it does not know (Docker's "HttpHeaders", "proxies", a
// credsStore) are written back unchanged.
package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"minibox/06-image/registry"
	"minibox/internal/atomicfile"
)

// File is a config.json. Auths are the file's own entries; those read from
// the later (read-only) files of Load answer Get but are never saved.
type File struct {
	Auths      map[string]Entry `json:"auths"`
	CredsStore string           `json:"credsStore,omitempty"`

	raw      map[string]json.RawMessage // every top-level key, as read
	readOnly map[string]Entry           // from the other files of Load
	path     string
}

// Entry is one registry's credentials.
type Entry struct {
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`

	raw map[string]json.RawMessage // keys of the entry besides these two
}

// MarshalJSON writes the entry's unknown keys back beside auth and identitytoken.
func (e Entry) MarshalJSON() ([]byte, error) {
	m := map[string]json.RawMessage{}
	for k, v := range e.raw {
		m[k] = v
	}
	delete(m, "auth")
	delete(m, "identitytoken")
	for k, v := range map[string]string{"auth": e.Auth, "identitytoken": e.IdentityToken} {
		if v != "" {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			m[k] = b
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON keeps the entry's unknown keys.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	var known struct {
		Auth          string `json:"auth"`
		IdentityToken string `json:"identitytoken"`
	}
	if err := json.Unmarshal(b, &known); err != nil {
		return err
	}
	*e = Entry{Auth: known.Auth, IdentityToken: known.IdentityToken, raw: m}
	return nil
}

// DefaultPaths are minibox's file (the first, the one Save writes) and
// Docker's, in the order Load reads them.
func DefaultPaths() []string {
	home, _ := os.UserHomeDir()
	own := filepath.Join(home, ".minibox", "config.json")
	if d := os.Getenv("MINIBOX_CONFIG"); d != "" {
		own = filepath.Join(d, "config.json")
	}
	docker := filepath.Join(home, ".docker", "config.json")
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		docker = filepath.Join(d, "config.json")
	}
	return []string{own, docker}
}

// Load reads paths (DefaultPaths when none): the first is the file's own,
// the others only answer Get for keys the first lacks. A missing file is
// empty; a file that is not JSON is an error naming it.
func Load(paths ...string) (*File, error) {
	if len(paths) == 0 {
		paths = DefaultPaths()
	}
	f := &File{Auths: map[string]Entry{}, readOnly: map[string]Entry{}, path: paths[0]}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		g, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("credentials: %s: %w", p, err)
		}
		if i == 0 {
			g.readOnly, g.path = f.readOnly, f.path
			f = g
			continue
		}
		for k, e := range g.Auths {
			if _, ok := f.readOnly[k]; !ok {
				f.readOnly[k] = e
			}
		}
	}
	return f, nil
}

// Parse reads one config.json.
func Parse(b []byte) (*File, error) {
	f := &File{}
	if len(strings.TrimSpace(string(b))) == 0 {
		f.Auths = map[string]Entry{}
		return f, nil
	}
	if err := json.Unmarshal(b, &f.raw); err != nil {
		return nil, fmt.Errorf("parse config.json: %w", err)
	}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("parse config.json: %w", err)
	}
	if f.Auths == nil {
		f.Auths = map[string]Entry{}
	}
	for k, e := range f.Auths {
		if _, err := decode(e.Auth); err != nil {
			return nil, fmt.Errorf("parse config.json: auths[%q]: %w", k, err)
		}
	}
	return f, nil
}

// decode reads an "auth" value: base64 of "user:password" (Docker splits at
// the first colon, so a password may hold colons).
func decode(s string) (registry.Auth, error) {
	if s == "" {
		return registry.Auth{}, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return registry.Auth{}, fmt.Errorf("invalid auth value: %w", err)
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok {
		return registry.Auth{}, errors.New("invalid auth value: no colon between username and password")
	}
	return registry.Auth{Username: user, Password: pass}, nil
}

// lookup finds host's entry in m: its AuthKey, or a key that names the same
// host in another way ("https://host:5000", "host:5000/v1/"), as Docker's
// GetAuthConfig falls back to ConvertToHostname.
func lookup(m map[string]Entry, host string) (Entry, bool) {
	key := registry.AuthKey(host)
	if e, ok := m[key]; ok {
		return e, true
	}
	for k, e := range m {
		if registry.AuthKey(k) == key {
			return e, true
		}
	}
	return Entry{}, false
}

// Get returns the credentials for a registry as the user named it (host,
// URL, or a Docker Hub name), from the own file first.
func (f *File) Get(host string) (registry.Auth, bool) {
	e, ok := lookup(f.Auths, host)
	if !ok {
		if e, ok = lookup(f.readOnly, host); !ok {
			return registry.Auth{}, false
		}
	}
	a, err := decode(e.Auth)
	if err != nil {
		return registry.Auth{}, false
	}
	a.IdentityToken = e.IdentityToken
	return a, true
}

// Set stores a under host's AuthKey.
func (f *File) Set(host string, a registry.Auth) {
	if f.Auths == nil {
		f.Auths = map[string]Entry{}
	}
	key := registry.AuthKey(host)
	e := f.Auths[key]
	e.Auth, e.IdentityToken = "", a.IdentityToken
	if a.Username != "" || a.Password != "" {
		e.Auth = base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + a.Password))
	}
	f.Auths[key] = e
}

// Delete removes host's entry from the own file and reports whether there
// was one (an entry only in Docker's file stays: minibox never writes it).
func (f *File) Delete(host string) bool {
	key := registry.AuthKey(host)
	found := false
	for k := range f.Auths {
		if k == key || registry.AuthKey(k) == key {
			delete(f.Auths, k)
			found = true
		}
	}
	return found
}

// Path is the file Save writes when Load read the default paths.
func (f *File) Path() string { return f.path }

// Save writes the file to path (0600, atomically: a crash leaves the old
// file or the new one), with every key it read and did not change.
func (f *File) Save(path string) error {
	data, err := f.marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return nil
}

// marshal is the file's JSON, indented with tabs as Docker writes it.
func (f *File) marshal() ([]byte, error) {
	out := map[string]json.RawMessage{}
	for k, v := range f.raw {
		out[k] = v
	}
	b, err := json.Marshal(f.Auths)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	out["auths"] = b
	delete(out, "credsStore")
	if f.CredsStore != "" {
		out["credsStore"], _ = json.Marshal(f.CredsStore)
	}
	data, err := json.MarshalIndent(out, "", "\t")
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return append(data, '\n'), nil
}
