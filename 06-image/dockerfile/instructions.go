package dockerfile

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// flagsOf lists the flags each instruction accepts (Docker's classic builder
// plus --chmod, without BuildKit's --mount, --link, --exclude...).
var flagsOf = map[string][]string{
	"FROM":        {"platform"},
	"COPY":        {"from", "chown", "chmod"},
	"ADD":         {"chown", "chmod"},
	"HEALTHCHECK": {"interval", "timeout", "start-period", "start-interval", "retries"},
}

// known is every instruction Parse decodes.
var known = map[string]bool{
	"ADD": true, "ARG": true, "CMD": true, "COPY": true, "ENTRYPOINT": true, "ENV": true,
	"EXPOSE": true, "FROM": true, "HEALTHCHECK": true, "LABEL": true, "MAINTAINER": true,
	"ONBUILD": true, "RUN": true, "SHELL": true, "STOPSIGNAL": true, "USER": true,
	"VOLUME": true, "WORKDIR": true,
}

var validStageName = regexp.MustCompile(`^[a-z][a-z0-9-_.]*$`)

var onbuildPrefix = regexp.MustCompile(`(?i)^\s*ONBUILD\s*`)

// nodeArgs flattens a node's argument list (buildkit keeps it as a linked
// list of nodes; ONBUILD's trigger is a child node).
func nodeArgs(n *parser.Node) []string {
	out := []string{}
	for ; n.Next != nil; n = n.Next {
		a := n.Next
		switch len(a.Children) {
		case 0:
			out = append(out, a.Value)
		case 1:
			out = append(out, a.Children[0].Value)
			out = append(out, nodeArgs(a.Children[0])...)
		}
	}
	return out
}

// parseFlags checks the instruction's --flags against the allowed ones, with
// the messages of BuildKit's BFlags.
func parseFlags(kind string, raw []string) (map[string]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	allowed := map[string]bool{}
	for _, f := range flagsOf[kind] {
		allowed[f] = true
	}
	out := map[string]string{}
	for _, a := range raw {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "--") {
			return nil, fmt.Errorf("arg should start with -- : %s", a)
		}
		name, value, hasValue := strings.Cut(a, "=")
		key := name[2:]
		if !allowed[key] {
			return nil, fmt.Errorf("unknown flag: %s", name)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("duplicate flag specified: %s", name)
		}
		if !hasValue {
			return nil, fmt.Errorf("missing a value on flag: %s", name)
		}
		out[key] = value
	}
	return out, nil
}

func decodeFrom(n *parser.Node) (Stage, error) {
	flags, err := parseFlags("FROM", n.Flags)
	if err != nil {
		return Stage{}, err
	}
	args := nodeArgs(n)
	st := Stage{Line: n.StartLine, Platform: flags["platform"], Original: strings.TrimSpace(n.Original)}
	switch {
	case len(args) == 3 && strings.EqualFold(args[1], "as"):
		st.Name = strings.ToLower(args[2])
		if !validStageName.MatchString(st.Name) {
			return Stage{}, fmt.Errorf("invalid name for build stage: %q, name can't start with a number or contain symbols", args[2])
		}
	case len(args) != 1:
		return Stage{}, errors.New("FROM requires either one or three arguments")
	}
	st.BaseName = args[0]
	return st, nil
}

// decode turns one instruction node into a Step, checking what BuildKit's
// instructions package checks.
func decode(n *parser.Node) (Step, error) {
	kind := strings.ToUpper(n.Value)
	if !known[kind] {
		return Step{}, fmt.Errorf("unknown instruction: %s", kind)
	}
	flags, err := parseFlags(kind, n.Flags)
	if err != nil {
		return Step{}, err
	}
	s := Step{
		Kind:     kind,
		Args:     nodeArgs(n),
		JSON:     n.Attributes["json"],
		Flags:    flags,
		Original: strings.TrimSpace(n.Original),
		Line:     n.StartLine,
	}
	for _, h := range n.Heredocs {
		c := h.Content
		if h.Chomp {
			c = parser.ChompHeredocContent(c)
		}
		s.Heredoc = append(s.Heredoc, c)
	}
	switch kind {
	case "FROM":
		return Step{}, errors.New("FROM isn't allowed as an ONBUILD trigger")
	case "ENV", "LABEL":
		// buildkit gives (key, value, separator) triples for both syntaxes.
		if len(s.Args) == 0 {
			return Step{}, errAtLeastOne(kind)
		}
		if len(s.Args)%3 != 0 {
			return Step{}, fmt.Errorf("Bad input to %s, too many arguments", kind)
		}
		var kv []string
		for i := 0; i < len(s.Args); i += 3 {
			if s.Args[i] == "" {
				return Step{}, fmt.Errorf("%s names can not be blank", kind)
			}
			kv = append(kv, s.Args[i]+"="+s.Args[i+1])
		}
		s.Args = kv
	case "ARG":
		if len(s.Args) == 0 {
			return Step{}, errAtLeastOne(kind)
		}
		for _, a := range s.Args {
			if strings.HasPrefix(a, "=") {
				return Step{}, errors.New("ARG names can not be blank")
			}
		}
	case "COPY", "ADD":
		if len(s.Args) < 2 {
			return Step{}, fmt.Errorf("%s requires at least two arguments, but only one was provided. Destination could not be determined", kind)
		}
		if h, _ := parser.ParseHeredoc(s.Args[len(s.Args)-1]); h != nil {
			return Step{}, fmt.Errorf("%s cannot accept a heredoc as a destination", kind)
		}
	case "RUN":
		if len(s.Args) == 0 {
			return Step{}, errAtLeastOne(kind)
		}
		s.Args = shellArgs(s.Args, s.JSON)
	case "CMD", "ENTRYPOINT":
		s.Args = shellArgs(s.Args, s.JSON)
	case "SHELL":
		s.Args = shellArgs(s.Args, s.JSON)
		if len(s.Args) == 0 {
			return Step{}, errAtLeastOne(kind)
		}
		if !s.JSON {
			return Step{}, errors.New("SHELL requires the arguments to be in JSON form")
		}
	case "WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER":
		if len(s.Args) != 1 {
			return Step{}, fmt.Errorf("%s requires exactly one argument", kind)
		}
	case "EXPOSE":
		if len(s.Args) == 0 {
			return Step{}, errAtLeastOne(kind)
		}
		// Docker's parser sorts them (as strings), so its history reads
		// "EXPOSE 53/udp 80", whatever the order written.
		sort.Strings(s.Args)
	case "VOLUME":
		if len(s.Args) == 0 {
			return Step{}, errAtLeastOne(kind)
		}
		for i, v := range s.Args {
			v = strings.TrimSpace(v)
			if v == "" {
				return Step{}, errors.New("VOLUME specified can not be an empty string")
			}
			s.Args[i] = v
		}
	case "HEALTHCHECK":
		h, err := decodeHealth(s.Args, s.JSON, flags)
		if err != nil {
			return Step{}, err
		}
		s.Health = h
		s.Args = h.Test
	case "ONBUILD":
		if len(s.Args) == 0 || n.Next == nil || len(n.Next.Children) != 1 {
			return Step{}, errAtLeastOne(kind)
		}
		child := n.Next.Children[0]
		switch trig := strings.ToUpper(child.Value); trig {
		case "ONBUILD":
			return Step{}, errors.New("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
		case "MAINTAINER", "FROM":
			return Step{}, fmt.Errorf("%s isn't allowed as an ONBUILD trigger", trig)
		}
		child.StartLine = n.StartLine
		child.Heredocs = n.Heredocs
		inner, err := decode(child)
		if err != nil {
			return Step{}, err
		}
		expr := onbuildPrefix.ReplaceAllString(strings.TrimSpace(n.Original), "")
		s.Args = []string{expr}
		s.JSON = false
		s.Inner = &inner
	}
	return s, nil
}

// shellArgs is the command line of RUN/CMD/ENTRYPOINT/SHELL: the array as
// is, or the shell form's words joined back into its one text.
func shellArgs(args []string, json bool) []string {
	if len(args) == 0 {
		return []string{}
	}
	if json {
		return args
	}
	return []string{strings.Join(args, " ")}
}

func decodeHealth(args []string, json bool, flags map[string]string) (*Health, error) {
	if len(args) == 0 {
		return nil, errAtLeastOne("HEALTHCHECK")
	}
	typ := strings.ToUpper(args[0])
	rest := args[1:]
	if typ == "NONE" {
		if len(rest) != 0 {
			return nil, errors.New("HEALTHCHECK NONE takes no arguments")
		}
		return &Health{Test: []string{"NONE"}}, nil
	}
	if typ != "CMD" {
		return nil, fmt.Errorf("Unknown type %q in HEALTHCHECK (try CMD)", typ)
	}
	cmd := shellArgs(rest, json)
	if len(cmd) == 0 {
		return nil, errors.New("Missing command after HEALTHCHECK CMD")
	}
	if !json {
		typ = "CMD-SHELL"
	}
	h := &Health{Test: append([]string{typ}, cmd...)}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"interval", &h.Interval}, {"timeout", &h.Timeout}, {"start-period", &h.StartPeriod}, {"start-interval", &h.StartInterval}} {
		v, ok := flags[d.name]
		if !ok || v == "" {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			return nil, err
		}
		if dur != 0 && dur < time.Millisecond {
			return nil, fmt.Errorf("Interval %q cannot be less than %s", d.name, time.Millisecond)
		}
		*d.dst = dur
	}
	if v, ok := flags["retries"]; ok && v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, fmt.Errorf("--retries cannot be negative (%d)", n)
		}
		h.Retries = int(n)
	}
	return h, nil
}

func errAtLeastOne(kind string) error {
	return fmt.Errorf("%s requires at least one argument", kind)
}
