package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LoadBundle reads dir/config.json, checks what minibox needs from it and
// makes the root path absolute (a relative one is taken from the bundle).
func LoadBundle(dir string) (string, *specs.Spec, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil, fmt.Errorf("bundle %s has no config.json: make one with `runc spec` in it, or pass --bundle", dir)
		}
		return "", nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	spec, err := ParseConfig(data)
	if err != nil {
		return "", nil, fmt.Errorf("bundle %s: config.json: %w", dir, err)
	}
	if !filepath.IsAbs(spec.Root.Path) {
		spec.Root.Path = filepath.Join(dir, spec.Root.Path)
	}
	if fi, err := os.Stat(spec.Root.Path); err != nil || !fi.IsDir() {
		return "", nil, fmt.Errorf("bundle %s: root.path %s is not a directory", dir, spec.Root.Path)
	}
	return dir, spec, nil
}

// ParseConfig decodes a config.json and checks the parts minibox relies on.
func ParseConfig(data []byte) (*specs.Spec, error) {
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + strings.Count(string(data[:se.Offset]), "\n")
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		return nil, err
	}
	if err := CheckVersion(spec.Version); err != nil {
		return nil, err
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return nil, errors.New("root.path is missing: name the root filesystem")
	}
	if spec.Process == nil {
		return nil, errors.New("process is missing: minibox needs the program to run at create")
	}
	if len(spec.Process.Args) == 0 {
		return nil, errors.New("process.args is empty: name the program to run")
	}
	if spec.Process.Cwd != "" && !filepath.IsAbs(spec.Process.Cwd) {
		return nil, fmt.Errorf("process.cwd %q must be an absolute path", spec.Process.Cwd)
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	return &spec, nil
}

// CheckVersion accepts the spec versions this runtime implements: 1.0.x
// to 1.3.x (pre-releases such as 1.2.0-rc.1 included).
func CheckVersion(v string) error {
	if v == "" {
		return errors.New("ociVersion is missing")
	}
	if !supportedVersion(v) {
		return fmt.Errorf("ociVersion %q is not supported: minibox implements 1.0 to 1.3", v)
	}
	return nil
}

// supportedVersion matches 1.[0-3].N with an optional -pre.release suffix.
// (Checked by hand, not with a regexp: every process of the runtime, the
// container's init too, would compile it at start.)
func supportedVersion(v string) bool {
	core, pre, hasPre := strings.Cut(v, "-")
	if hasPre && (pre == "" || strings.Trim(pre, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+-") != "") {
		return false
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 || parts[0] != "1" || len(parts[1]) != 1 || parts[1] < "0" || parts[1] > "3" || parts[2] == "" {
		return false
	}
	return strings.Trim(parts[2], "0123456789") == ""
}

// CheckID accepts the container IDs runc accepts: letters, digits and
// _ + - . but not "." or "..", which would name a state directory's parent.
func CheckID(id string) error {
	if id == "" {
		return errors.New("a container ID is required")
	}
	valid := id != "." && id != ".." && len(id) <= 1024
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_+.-", c)) {
			valid = false
		}
	}
	if !valid {
		return fmt.Errorf("invalid container ID %q: use letters, digits and _ + - .", id)
	}
	return nil
}
