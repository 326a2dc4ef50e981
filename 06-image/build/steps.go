package build

import (
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"minibox/06-image/dockerfile"
)

// env is what the words of an instruction expand with: the config's env
// and the build arguments in scope.
func (r *run) env(st *stage) []string {
	all, _ := st.scope.inScope(r.args, st.image.Config.Env)
	return append(slices.Clone(st.image.Config.Env), all...)
}

// nop is the history line of a step that runs nothing: the shell, then
// "#(nop) " and the instruction, as Docker writes it (ENV, LABEL and the
// like have a second space, the "#(nop) " of withCmdComment joined by one
// more; WORKDIR, COPY and ADD have one).
func nop(st *stage, comment string) string {
	return strings.Join(st.shell, " ") + " #(nop)  " + comment
}

func nop1(st *stage, comment string) string {
	return strings.Join(st.shell, " ") + " #(nop) " + comment
}

// dispatch runs one instruction of a stage.
func (r *run) dispatch(st *stage, s dockerfile.Step) error {
	if len(s.Heredoc) > 0 {
		return fmt.Errorf("line %d: %s: heredocs need BuildKit; the classic builder has none", s.Line, s.Kind)
	}
	next := st.image.Config.clone()
	switch s.Kind {
	case "RUN":
		return r.run(st, s)
	case "COPY", "ADD":
		return r.copy(st, s)
	case "WORKDIR":
		return r.workdir(st, s)
	case "ARG":
		return r.arg(st, s)
	case "ENV":
		pairs, err := r.pairs(st, s)
		if err != nil {
			return err
		}
		comment := "ENV"
		for _, p := range pairs {
			next.Env = setEnv(next.Env, p[0], p[1])
			comment += " " + p[0] + "=" + p[1]
		}
		return r.commit(st, next, nop(st, comment), nil)
	case "LABEL":
		pairs, err := r.pairs(st, s)
		if err != nil {
			return err
		}
		return r.labels(st, next, pairs)
	case "MAINTAINER":
		who := strings.Join(s.Args, " ")
		st.image.Author = who
		return r.commit(st, next, nop(st, "MAINTAINER "+who), nil)
	case "EXPOSE":
		words, err := r.words(st, s.Args)
		if err != nil {
			return err
		}
		ports, err := exposedPorts(words)
		if err != nil {
			return fmt.Errorf("EXPOSE: %w", err)
		}
		if next.ExposedPorts == nil {
			next.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			next.ExposedPorts[p] = struct{}{}
		}
		return r.commit(st, next, nop(st, "EXPOSE "+strings.Join(words, " ")), nil)
	case "VOLUME":
		vols, err := r.words(st, s.Args)
		if err != nil {
			return err
		}
		if next.Volumes == nil {
			next.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			next.Volumes[v] = struct{}{}
		}
		return r.commit(st, next, nop(st, fmt.Sprintf("VOLUME %v", vols)), nil)
	case "USER":
		u, err := r.lex.Word(strings.Join(s.Args, " "), r.env(st))
		if err != nil {
			return fmt.Errorf("USER: %w", err)
		}
		next.User = u
		return r.commit(st, next, nop(st, "USER "+u), nil)
	case "STOPSIGNAL":
		sig, err := r.lex.Word(strings.Join(s.Args, " "), r.env(st))
		if err != nil {
			return fmt.Errorf("STOPSIGNAL: %w", err)
		}
		next.StopSignal = sig
		return r.commit(st, next, nop(st, "STOPSIGNAL "+sig), nil)
	case "SHELL":
		if !s.JSON || len(s.Args) == 0 {
			return fmt.Errorf("SHELL requires the arguments to be in JSON form")
		}
		next.Shell = slices.Clone(s.Args)
		if err := r.commit(st, next, nop(st, fmt.Sprintf("SHELL %v", s.Args)), nil); err != nil {
			return err
		}
		st.shell = slices.Clone(s.Args)
		return nil
	case "CMD":
		cmd := dockerfile.Command(st.shell, s)
		cmdSet := st.cmdSet || len(s.Args) > 0 // Docker counts a CMD with arguments
		next.Entrypoint, next.Cmd = dockerfile.ProcessArgs(st.ep, cmd, st.epSet, cmdSet, st.base)
		if err := r.commit(st, next, nop(st, fmt.Sprintf("CMD %q", cmd)), nil); err != nil {
			return err
		}
		st.cmd, st.cmdSet = cmd, cmdSet
		return nil
	case "ENTRYPOINT":
		ep := dockerfile.Command(st.shell, s)
		if len(ep) == 0 {
			ep = nil // ENTRYPOINT []: none
		}
		next.Entrypoint, next.Cmd = dockerfile.ProcessArgs(ep, st.cmd, true, st.cmdSet, st.base)
		if err := r.commit(st, next, nop(st, fmt.Sprintf("ENTRYPOINT %q", ep)), nil); err != nil {
			return err
		}
		st.ep, st.epSet = ep, true
		return nil
	case "HEALTHCHECK":
		hc, err := healthcheck(s)
		if err != nil {
			return err
		}
		next.Healthcheck = hc
		return r.commit(st, next, nop(st, "HEALTHCHECK "+hc.String()), nil)
	case "ONBUILD":
		t := onbuildTrigger(s)
		if t == "" {
			return fmt.Errorf("ONBUILD requires at least one argument")
		}
		next.OnBuild = append(next.OnBuild, t)
		return r.commit(st, next, nop(st, "ONBUILD "+t), nil)
	}
	return fmt.Errorf("line %d: unknown instruction: %s", s.Line, s.Kind)
}

// words expands each word with the stage's env.
func (r *run) words(st *stage, in []string) ([]string, error) {
	env := r.env(st)
	out := make([]string, 0, len(in))
	for _, w := range in {
		x, err := r.lex.Word(w, env)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// pairs reads ENV's and LABEL's KEY=VALUE pairs, expanded with the env
// before the instruction (so `ENV a=1 b=$a` sees the old a, as Docker's).
func (r *run) pairs(st *stage, s dockerfile.Step) ([][2]string, error) {
	env := r.env(st)
	var out [][2]string
	for _, a := range s.Pairs() {
		k, err := r.lex.Word(a.Key, env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Kind, err)
		}
		v := ""
		if a.Value != nil {
			if v, err = r.lex.Word(*a.Value, env); err != nil {
				return nil, fmt.Errorf("%s: %w", s.Kind, err)
			}
		}
		if k == "" {
			return nil, fmt.Errorf("line %d: %s names can not be blank", s.Line, s.Kind)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func (r *run) labels(st *stage, next Config, pairs [][2]string) error {
	if next.Labels == nil {
		next.Labels = map[string]string{}
	}
	comment := "LABEL"
	for _, p := range pairs {
		next.Labels[p[0]] = p[1]
		comment += " " + p[0] + "=" + p[1]
	}
	return r.commit(st, next, nop(st, comment), nil)
}

// labelsStep is --label as a LABEL instruction, keys sorted.
func labelsStep(labels map[string]string) *dockerfile.Step {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := &dockerfile.Step{Kind: "LABEL", Original: "LABEL"}
	for _, k := range keys {
		// Quoted, so that the expansion of the LABEL keeps them as given.
		s.Args = append(s.Args, singleQuote(k)+"="+singleQuote(labels[k]))
		s.Original += fmt.Sprintf(" %q='%s'", k, labels[k])
	}
	return s
}

// singleQuote quotes s for the shell lexer: nothing inside is expanded.
func singleQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// arg declares build arguments in the stage: ARG k[=default].
func (r *run) arg(st *stage, s dockerfile.Step) error {
	comment := "ARG"
	env := r.env(st)
	for _, a := range s.Pairs() {
		k := a.Key
		var dp *string
		if a.Value != nil {
			v, err := r.lex.Word(*a.Value, env)
			if err != nil {
				return fmt.Errorf("ARG %s: %w", k, err)
			}
			dp = &v
			comment += " " + k + "=" + v
		} else {
			comment += " " + k
		}
		r.args.referenced[k] = true
		st.scope.declare(k, r.args.value(k, dp))
	}
	return r.commit(st, st.image.Config.clone(), nop(st, comment), nil)
}

// run is RUN: a container from the current image runs the command; its
// diff is the step's layer. The history line (and so the cache key) is
// the command's text, with the build arguments in scope before it
// ("|1 A=x /bin/sh -c ...") so that another --build-arg value misses.
func (r *run) run(st *stage, s dockerfile.Step) error {
	cmd := dockerfile.Command(st.shell, s)
	all, declared := st.scope.inScope(r.args, st.image.Config.Env)
	save := cmd
	if len(declared) > 0 {
		sorted := slices.Clone(declared)
		sort.Strings(sorted)
		save = append(append([]string{"|" + strconv.Itoa(len(sorted))}, sorted...), cmd...)
	}
	next := st.image.Config.clone()
	return r.commit(st, next, strings.Join(save, " "), func() (RunResult, error) {
		var cid string
		stdout := r.out
		req := RunRequest{
			Image: st.img, Cmd: cmd,
			Env:        append(slices.Clone(st.image.Config.Env), all...),
			WorkingDir: st.image.Config.WorkingDir, User: st.image.Config.User,
			Network: r.o.Network, Stdout: stdout,
			Created: func(id string) {
				cid = id
				fmt.Fprintf(r.out, " ---> Running in %s\n", shortID(id))
			},
		}
		res, err := r.b.Exec.Run(r.ctx, req)
		if err != nil {
			return res, fmt.Errorf("RUN %s: %w", strings.Join(cmd, " "), err)
		}
		if res.ExitCode != 0 {
			return res, &RunError{Cmd: cmd, Code: res.ExitCode}
		}
		if cid != "" {
			fmt.Fprintf(r.out, "Removing intermediate container %s\n", shortID(cid))
		}
		return res, nil
	})
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// workdir is WORKDIR: a relative path joins the current one. As the
// classic builder does, the directory is made in a snapshot (owned by
// root, no process) and committed: a layer with the new directory, or
// none when it existed.
func (r *run) workdir(st *stage, s dockerfile.Step) error {
	p, err := r.lex.Word(strings.Join(s.Args, " "), r.env(st))
	if err != nil {
		return fmt.Errorf("WORKDIR: %w", err)
	}
	if p == "" {
		return fmt.Errorf("WORKDIR requires exactly one argument")
	}
	if !path.IsAbs(p) {
		p = path.Join("/", st.image.Config.WorkingDir, p)
	}
	next := st.image.Config.clone()
	next.WorkingDir = p
	sn, err := r.snapshots("WORKDIR")
	if err != nil {
		return err
	}
	return r.commit(st, next, nop1(st, "WORKDIR "+p), func() (RunResult, error) {
		return sn.Change(r.ctx, st.img, func(root string) error { return mkdirIn(root, p) })
	})
}

// mkdirIn makes dir (and its parents, 0755) inside root; os.Root resolves
// every element inside root, so a symlink in the image cannot lead out.
func mkdirIn(root, dir string) error {
	rt, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("WORKDIR %s: %w", dir, err)
	}
	defer rt.Close()
	rel := strings.TrimPrefix(path.Clean(dir), "/")
	if rel == "" {
		return nil
	}
	if err := rt.MkdirAll(rel, 0o755); err != nil {
		return fmt.Errorf("WORKDIR %s: %w", dir, err)
	}
	return nil
}

// exposedPorts turns EXPOSE's words (80, 80/udp, 8000-8002) into the
// config's keys ("80/tcp").
func exposedPorts(words []string) ([]string, error) {
	var out []string
	for _, w := range words {
		port, proto, _ := strings.Cut(w, "/")
		if proto == "" {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("invalid proto: %s", proto)
		}
		lo, hi, isRange := strings.Cut(port, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("invalid containerPort: %s", port)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("invalid containerPort: %s", port)
			}
		}
		for p := a; p <= b; p++ {
			out = append(out, fmt.Sprintf("%d/%s", p, proto))
		}
	}
	return out, nil
}

// healthcheck is HEALTHCHECK's config, as the parser decoded it.
func healthcheck(s dockerfile.Step) (*HealthConfig, error) {
	h := s.Health
	if h == nil || len(h.Test) == 0 {
		return nil, fmt.Errorf("line %d: HEALTHCHECK requires an argument", s.Line)
	}
	return &HealthConfig{
		Test: slices.Clone(h.Test), Interval: h.Interval, Timeout: h.Timeout,
		StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries,
	}, nil
}

// String is the config as Docker's history line prints it (fmt's %q of
// the struct: `&{["CMD-SHELL" "curl -f x"] "30s" "3s" "0s" '\x03'}`).
func (hc *HealthConfig) String() string {
	return fmt.Sprintf("&{%q %q %q %q %q}", hc.Test, hc.Interval, hc.Timeout, hc.StartPeriod, rune(hc.Retries))
}

// onbuildTrigger is the instruction after ONBUILD, as written.
func onbuildTrigger(s dockerfile.Step) string {
	if len(s.Args) == 0 {
		return ""
	}
	return s.Args[0]
}
