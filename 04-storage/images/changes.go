package images

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ChangeCommands are the Dockerfile instructions that `import -c` and
// `commit -c` accept.
var ChangeCommands = []string{"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}

// ApplyChanges applies `-c/--change` values, each one Dockerfile
// instruction, to cfg, in order. CMD and ENTRYPOINT take the JSON form
// (["sh", "-c", "x"]) or the shell form (which runs /bin/sh -c); ENV and
// LABEL take KEY=VALUE pairs (values may be quoted) or ENV's old KEY VALUE;
// VOLUME a JSON list or words; EXPOSE ports as 80 or 53/udp. Lesson 06's
// Dockerfile builder has the full parser; this is the subset of Docker's
// commit and import.
func ApplyChanges(cfg *imagespec.ImageConfig, changes []string) error {
	for _, c := range changes {
		if err := applyChange(cfg, c); err != nil {
			return err
		}
	}
	return nil
}

func applyChange(cfg *imagespec.ImageConfig, change string) error {
	line := strings.TrimSpace(change)
	word, rest, _ := strings.Cut(line, " ")
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		word, rest = line[:i], strings.TrimSpace(line[i+1:])
	} else {
		word, rest = line, ""
	}
	cmd := strings.ToUpper(word)
	if !slices.Contains(ChangeCommands, cmd) {
		if word == "" {
			return fmt.Errorf("dockerfile parse error: empty change")
		}
		return fmt.Errorf("%s is not a valid change command", word)
	}
	bad := func(why string) error { return fmt.Errorf("dockerfile parse error: %s %s: %s", cmd, rest, why) }
	if rest == "" {
		return fmt.Errorf("%s requires at least one argument", cmd)
	}
	switch cmd {
	case "CMD", "ENTRYPOINT":
		args, err := commandForm(rest)
		if err != nil {
			return bad(err.Error())
		}
		if cmd == "CMD" {
			cfg.Cmd = args
		} else {
			cfg.Entrypoint = args
			cfg.Cmd = nil // as a Dockerfile's ENTRYPOINT resets an inherited CMD
		}
	case "ENV", "LABEL":
		kvs, err := keyValues(rest, cmd == "ENV")
		if err != nil {
			return bad(err.Error())
		}
		for _, kv := range kvs {
			if cmd == "ENV" {
				cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
				continue
			}
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			cfg.Labels[kv[0]] = kv[1]
		}
	case "WORKDIR":
		w, err := unquote(rest)
		if err != nil {
			return bad(err.Error())
		}
		if !path.IsAbs(w) {
			w = path.Join("/", cfg.WorkingDir, w)
		}
		cfg.WorkingDir = path.Clean(w)
	case "USER":
		u, err := unquote(rest)
		if err != nil {
			return bad(err.Error())
		}
		cfg.User = u
	case "STOPSIGNAL":
		cfg.StopSignal = rest
	case "VOLUME":
		var vols []string
		if strings.HasPrefix(rest, "[") {
			if err := json.Unmarshal([]byte(rest), &vols); err != nil {
				return bad("not a JSON list of strings")
			}
		} else {
			vols = strings.Fields(rest)
		}
		for _, v := range vols {
			if v == "" {
				return bad("a volume path is empty")
			}
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[path.Clean(path.Join("/", v))] = struct{}{}
		}
	case "EXPOSE":
		for _, p := range strings.Fields(rest) {
			port, proto, hasProto := strings.Cut(p, "/")
			if !hasProto {
				proto = "tcp"
			}
			proto = strings.ToLower(proto)
			n, err := strconv.ParseUint(port, 10, 16)
			if err != nil || n == 0 || !slices.Contains([]string{"tcp", "udp", "sctp"}, proto) {
				return bad(fmt.Sprintf("invalid port %q", p))
			}
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			cfg.ExposedPorts[fmt.Sprintf("%d/%s", n, proto)] = struct{}{}
		}
	case "ONBUILD":
		return bad("ONBUILD triggers come with lesson 06's builder")
	}
	return nil
}

// commandForm is CMD's and ENTRYPOINT's argument: a JSON list (exec form)
// or a command line for /bin/sh -c (shell form).
func commandForm(s string) ([]string, error) {
	if strings.HasPrefix(s, "[") {
		var args []string
		if err := json.Unmarshal([]byte(s), &args); err == nil {
			return args, nil
		}
		// Docker, too, falls back to the shell form for a broken JSON list.
	}
	return []string{"/bin/sh", "-c", s}, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if name, _, _ := strings.Cut(e, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// keyValues reads KEY=VALUE pairs separated by blanks, a value quoted with
// "..." or '...' or escaped with \. allowLegacy takes ENV's "KEY VALUE".
func keyValues(s string, allowLegacy bool) ([][2]string, error) {
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	if allowLegacy && !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(strings.TrimSpace(s), " ")
		v, err := unquote(strings.TrimSpace(v))
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(s) == k {
			return nil, fmt.Errorf("ENV names a variable without a value")
		}
		return [][2]string{{k, v}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want KEY=VALUE", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitWords splits at unquoted blanks and removes the quotes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == 0 && (r == ' ' || r == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			continue
		case r == '\\' && quote != '\'' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case r == quote:
			quote = 0
		default:
			cur.WriteRune(r)
		}
		inWord = true
	}
	if quote != 0 {
		return nil, fmt.Errorf("unmatched quote %c", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("no arguments")
	}
	return words, nil
}

// unquote is one word, possibly quoted (blanks inside quotes kept).
func unquote(s string) (string, error) {
	if !strings.ContainsAny(s, `"'\`) {
		return s, nil
	}
	ws, err := splitWords(s)
	if err != nil {
		return "", err
	}
	return strings.Join(ws, " "), nil
}
