// Command chapters runs the command blocks of the lesson chapters, as a
// student would, and fails when a command fails or prints something else
// than the chapter shows. CI runs it (see .ci/run); by hand, as root:
//
//	go run ./scripts/chapters                      # the default chapters
//	go run ./scripts/chapters 03-rootfs/README.md  # one (or a modified copy)
//
// Every chapter runs in a fresh `git clone` of the repository's committed
// HEAD (the files are read from where they are named, so an edited copy of a
// chapter can be checked against the committed code), from the clone's top
// directory, with stdin from /dev/null. The clone is removed afterwards.
//
// The convention, in a chapter's ```console blocks:
//
//   - `$ CMD` is a command for the host's shell; a line ending in `\`
//     continues on the next. Each command runs in a new `bash`, in the
//     directory the previous one ended in, with `$?` set to the previous
//     command's status (so `$ echo $?` shows it). A command must exit 0,
//     unless the next command of the block is `echo $?`.
//   - `# CMD` and `/ # CMD` (a shell prompt inside a container) are lines
//     typed into the command before them: they are its stdin, in order.
//   - Every other line is output (stdout and stderr together) and must match
//     the command's whole output, line by line (trailing blanks ignored). A
//     line `...` matches any number of lines, `<...>` inside a line any text:
//     use them for what differs from machine to machine (PIDs, inode
//     numbers, times), and say in the text what it depends on.
//   - A block preceded by `<!-- chapters: skip REASON -->` is not run; the
//     reason is printed. `<!-- chapters: timeout SECONDS -->` gives each
//     command of the next block longer than the default -timeout.
//   - `<!-- chapters: terminal -->` before a block runs its commands on a
//     pseudo-terminal (120 columns), as typed at a terminal: each input line
//     is sent once the output ends in its prompt, and the output must then
//     show the prompt lines too, exactly as the block does (the terminal's
//     carriage returns and escape sequences are dropped). For `-t`.
//   - `<!-- chapters: cleanup CMD -->` (anywhere in a chapter) runs CMD in
//     the clone's top directory when the chapter ends, passed or failed,
//     before the clone is removed: for what a failure half-way would leave
//     behind (a created container, say). Its output is not checked.
//
// When `sudo` is not installed and we are root, a `sudo` that only runs its
// arguments (through env(1), so `sudo VAR=1 cmd` works) is put first in PATH.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// The chapters CI checks, relative to the repository's top directory.
var defaultChapters = []string{
	"README.md",
	"01-namespaces/README.md",
	"02-cgroups/README.md",
	"03-rootfs/README.md",
	"04-storage/README.md",
	"05-network/README.md",
	"06-image/README.md",
	"07-compose/README.md",
}

// Command is one `$` line of a block, with what is typed into it and what
// it must print.
type Command struct {
	Line    int // line number of the `$` in the chapter
	Cmd     string
	Stdin   []string
	Prompts []string // the prompt of each Stdin line
	Output  []string
	Lines   []string // everything after the `$` line, prompts included
}

// Block is one ```console block.
type Block struct {
	Line     int // line number of the opening fence
	Skip     string
	Timeout  time.Duration
	Terminal bool
	Commands []Command
}

var (
	directiveRe = regexp.MustCompile(`^<!--\s*chapters:\s*(\w+)\s*(.*?)\s*-->\s*$`)
	promptRe    = regexp.MustCompile(`^([/~]\S* )?# `)
)

// Chapter is what Parse finds in a chapter.
type Chapter struct {
	Blocks   []Block
	Cleanups []string
}

// Parse returns the console blocks of a chapter, and its cleanups.
func Parse(text string) (*Chapter, error) {
	ch := &Chapter{}
	var blocks []Block
	var pending Block
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if m := directiveRe.FindStringSubmatch(l); m != nil {
			switch m[1] {
			case "skip":
				if m[2] == "" {
					return nil, fmt.Errorf("line %d: a skip needs a reason", i+1)
				}
				pending.Skip = m[2]
			case "timeout":
				s, err := strconv.Atoi(m[2])
				if err != nil || s <= 0 {
					return nil, fmt.Errorf("line %d: timeout wants seconds, not %q", i+1, m[2])
				}
				pending.Timeout = time.Duration(s) * time.Second
			case "terminal":
				pending.Terminal = true
			case "cleanup":
				if m[2] == "" {
					return nil, fmt.Errorf("line %d: a cleanup needs a command", i+1)
				}
				ch.Cleanups = append(ch.Cleanups, m[2])
			default:
				return nil, fmt.Errorf("line %d: unknown directive %q", i+1, m[1])
			}
			continue
		}
		// A fence may be indented (a block inside a list item): the body
		// loses the same indentation.
		trimmed := strings.TrimLeft(l, " ")
		if !strings.HasPrefix(trimmed, "```") {
			continue
		}
		indent := l[:len(l)-len(trimmed)]
		info := strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))
		start := i
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(strings.TrimLeft(lines[i], " "), "```"); i++ {
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		if i == len(lines) {
			return nil, fmt.Errorf("line %d: the block never ends", start+1)
		}
		if info != "console" {
			if pending.Skip != "" || pending.Timeout != 0 || pending.Terminal {
				return nil, fmt.Errorf("line %d: a directive before a block that is not ```console", start+1)
			}
			continue
		}
		b := pending
		pending = Block{}
		b.Line = start + 1
		cmds, err := parseBody(body, start+2)
		if err != nil {
			return nil, err
		}
		if len(cmds) == 0 {
			return nil, fmt.Errorf("line %d: a console block without `$` commands", b.Line)
		}
		b.Commands = cmds
		blocks = append(blocks, b)
	}
	if pending.Skip != "" || pending.Timeout != 0 || pending.Terminal {
		return nil, errors.New("a directive at the end, before no block")
	}
	ch.Blocks = blocks
	return ch, nil
}

func parseBody(body []string, first int) ([]Command, error) {
	var cmds []Command
	for j := 0; j < len(body); j++ {
		l := body[j]
		switch {
		case strings.HasPrefix(l, "$ "):
			c := Command{Line: first + j, Cmd: strings.TrimPrefix(l, "$ ")}
			for strings.HasSuffix(c.Cmd, `\`) && j+1 < len(body) {
				j++
				c.Cmd += "\n" + body[j]
			}
			cmds = append(cmds, c)
		case len(cmds) == 0:
			return nil, fmt.Errorf("line %d: output before the first `$` command: %q", first+j, l)
		case promptRe.MatchString(l):
			c := &cmds[len(cmds)-1]
			p := promptRe.FindString(l)
			c.Stdin = append(c.Stdin, strings.TrimPrefix(l, p))
			c.Prompts = append(c.Prompts, p)
			c.Lines = append(c.Lines, l)
		default:
			c := &cmds[len(cmds)-1]
			c.Output = append(c.Output, l)
			c.Lines = append(c.Lines, l)
		}
	}
	return cmds, nil
}

// Match reports whether got (a command's output) is what want shows.
func Match(want, got []string) bool {
	want = trimLines(want)
	got = trimLines(got)
	memo := map[[2]int]bool{}
	var match func(i, j int) bool
	match = func(i, j int) bool {
		k := [2]int{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		var r bool
		switch {
		case i == len(want):
			r = j == len(got)
		case want[i] == "...":
			r = match(i+1, j) || (j < len(got) && match(i, j+1))
		default:
			r = j < len(got) && lineMatch(want[i], got[j]) && match(i+1, j+1)
		}
		memo[k] = r
		return r
	}
	return match(0, 0)
}

func trimLines(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = strings.TrimRight(l, " \t\r")
	}
	return out
}

func lineMatch(want, got string) bool {
	if !strings.Contains(want, "<...>") {
		return want == got
	}
	parts := strings.Split(want, "<...>")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got)
}

// splitOutput turns a command's output into lines (no final empty line).
func splitOutput(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

type runner struct {
	repo    string // the repository to clone
	timeout time.Duration
	keep    bool
	pathDir string // a directory put first in PATH (the sudo stand-in), or ""
}

// chapter runs one chapter's blocks in a fresh clone; it returns the number
// of commands run, the skips, and the first failure.
func (r *runner) chapter(name string) (int, []string, error) {
	text, err := os.ReadFile(name)
	if err != nil {
		return 0, nil, err
	}
	ch, err := Parse(string(text))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", name, err)
	}
	clone, err := os.MkdirTemp("", "minibox-chapters-")
	if err != nil {
		return 0, nil, err
	}
	if r.keep {
		fmt.Printf("   (the clone stays in %s)\n", clone)
	} else {
		defer os.RemoveAll(clone)
	}
	if out, err := exec.Command("git", "clone", "-q", r.repo, clone).CombinedOutput(); err != nil {
		return 0, nil, fmt.Errorf("git clone %s: %w: %s", r.repo, err, out)
	}
	state, err := os.MkdirTemp("", "minibox-chapters-state-")
	if err != nil {
		return 0, nil, err
	}
	defer os.RemoveAll(state)
	defer func() {
		for _, c := range ch.Cleanups {
			_, _, _ = r.run(Command{Cmd: c}, clone, 0, state, r.timeout)
		}
	}()

	cwd, status, ran := clone, 0, 0
	var skips []string
	for _, b := range ch.Blocks {
		if b.Skip != "" {
			skips = append(skips, fmt.Sprintf("%s:%d: %s", name, b.Line, b.Skip))
			continue
		}
		timeout := r.timeout
		if b.Timeout > 0 {
			timeout = b.Timeout
		}
		for ci, c := range b.Commands {
			run, want := r.run, c.Output
			if b.Terminal {
				run, want = r.runTerminal, c.Lines
			}
			out, code, err := run(c, cwd, status, state, timeout)
			ran++
			if err != nil {
				return ran, skips, fmt.Errorf("%s:%d: $ %s\n%w\n%s", name, c.Line, c.Cmd, err, indent(out))
			}
			if wd, err := os.ReadFile(filepath.Join(state, "cwd")); err == nil && len(wd) > 1 {
				cwd = strings.TrimSpace(string(wd))
			}
			got := splitOutput(out)
			if !Match(want, got) {
				return ran, skips, fmt.Errorf("%s:%d: $ %s\n   the chapter shows:\n%s\n   it printed (status %d):\n%s",
					name, c.Line, c.Cmd, orNothing(indent([]byte(strings.Join(want, "\n")))), code, orNothing(indent(out)))
			}
			statusShown := ci+1 < len(b.Commands) && strings.TrimSpace(b.Commands[ci+1].Cmd) == "echo $?"
			if code != 0 && !statusShown {
				return ran, skips, fmt.Errorf("%s:%d: $ %s\n   exit status %d (a command that fails must be followed by `$ echo $?`)\n%s",
					name, c.Line, c.Cmd, code, indent(out))
			}
			status = code
		}
	}
	return ran, skips, nil
}

// bash returns the command that runs c in cwd after a command that exited
// with status, and leaves the directory it ends in in state/cwd.
func (r *runner) bash(c Command, cwd string, status int, state string) *exec.Cmd {
	cwdFile := filepath.Join(state, "cwd")
	_ = os.Remove(cwdFile)
	script := fmt.Sprintf("(exit %d)\n%s\n__status=$?\npwd >%q\nexit $__status\n", status, c.Cmd, cwdFile)
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = cwd
	env := os.Environ()
	if r.pathDir != "" {
		env = append(env, "PATH="+r.pathDir+":"+os.Getenv("PATH"))
	}
	cmd.Env = env
	return cmd
}

func exitStatus(werr error) (int, error) {
	var exit *exec.ExitError
	switch {
	case werr == nil:
		return 0, nil
	case errors.As(werr, &exit):
		return exit.ExitCode(), nil
	default:
		return 0, werr
	}
}

// run runs one command with bash and returns its output and exit status.
func (r *runner) run(c Command, cwd string, status int, state string, timeout time.Duration) ([]byte, int, error) {
	outFile, err := os.CreateTemp(state, "out-")
	if err != nil {
		return nil, 0, err
	}
	defer outFile.Close()
	cmd := r.bash(c, cwd, status, state)
	cmd.Stdout = outFile
	cmd.Stderr = outFile
	if len(c.Stdin) > 0 {
		cmd.Stdin = strings.NewReader(strings.Join(c.Stdin, "\n") + "\n")
	}
	// Its own process group, so that a timeout ends everything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(timeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		out, _ := os.ReadFile(outFile.Name())
		return out, -1, fmt.Errorf("   no end after %s (killed)", timeout)
	}
	out, err := os.ReadFile(outFile.Name())
	if err != nil {
		return nil, 0, err
	}
	code, err := exitStatus(werr)
	return out, code, err
}

// escapeRe matches the terminal control sequences a shell's line editor
// writes (CSI and OSC sequences, and lone escapes).
var escapeRe = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\a]*\a|.)`)

// CleanTerminal turns what a terminal showed into lines of text.
func CleanTerminal(b []byte) []byte {
	b = escapeRe.ReplaceAll(b, nil)
	return bytes.ReplaceAll(b, []byte("\r"), nil)
}

// runTerminal runs one command on a pseudo-terminal and types its stdin
// lines, each once the output ends in that line's prompt.
func (r *runner) runTerminal(c Command, cwd string, status int, state string, timeout time.Duration) ([]byte, int, error) {
	cmd := r.bash(c, cwd, status, state)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		return nil, 0, err
	}
	defer ptmx.Close()
	var (
		mu  sync.Mutex
		out []byte
	)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			out = append(out, buf[:n]...)
			mu.Unlock()
			if err != nil { // EIO once every holder of the terminal is gone
				return
			}
		}
	}()
	snapshot := func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return CleanTerminal(append([]byte(nil), out...))
	}
	deadline := time.Now().Add(timeout)
	kill := func(why string) ([]byte, int, error) {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return snapshot(), -1, errors.New("   " + why)
	}
	sent := 0 // bytes of the cleaned output already answered
	for i, line := range c.Stdin {
		for {
			o := snapshot()
			if len(o) > sent && bytes.HasSuffix(o, []byte(c.Prompts[i])) {
				sent = len(o)
				break
			}
			if time.Now().After(deadline) {
				return kill(fmt.Sprintf("no prompt %q before %q within %s (killed)", c.Prompts[i], line, timeout))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := ptmx.Write([]byte(line + "\r")); err != nil {
			return kill(fmt.Sprintf("type %q: %v", line, err))
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(time.Until(deadline)):
		return kill(fmt.Sprintf("no end after %s (killed)", timeout))
	}
	select {
	case <-readDone:
	case <-time.After(2 * time.Second):
	}
	code, err := exitStatus(werr)
	return snapshot(), code, err
}

func orNothing(s string) string {
	if s == "" {
		return "      (nothing)"
	}
	return s
}

func indent(b []byte) string {
	var buf bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fmt.Fprintf(&buf, "      | %s\n", sc.Text())
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// sudoStandIn writes a `sudo` that runs its arguments, for a root shell
// without sudo installed; it returns its directory.
func sudoStandIn() (string, error) {
	dir, err := os.MkdirTemp("", "minibox-chapters-bin-")
	if err != nil {
		return "", err
	}
	script := "#!/bin/sh\n# chapters: root without sudo runs the command itself\nexec env \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "sudo"), []byte(script), 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

func main() { os.Exit(run()) }

// run is main without os.Exit, so that the deferred cleanups run.
func run() int {
	repo := flag.String("repo", ".", "the repository to clone for each chapter")
	timeout := flag.Duration("timeout", 60*time.Second, "how long one command may run")
	keep := flag.Bool("keep", false, "keep the clones (to look at a failure)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: chapters [flags] [CHAPTER.md ...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "chapters: the chapters' commands need root (they use sudo, and run containers)")
		return 2
	}
	files := flag.Args()
	if len(files) == 0 {
		for _, f := range defaultChapters {
			files = append(files, filepath.Join(*repo, f))
		}
	}
	r := &runner{repo: *repo, timeout: *timeout, keep: *keep}
	if _, err := exec.LookPath("sudo"); err != nil {
		dir, err := sudoStandIn()
		if err != nil {
			fmt.Fprintln(os.Stderr, "chapters:", err)
			return 2
		}
		defer os.RemoveAll(dir)
		r.pathDir = dir
		fmt.Println("chapters: no sudo here; `sudo CMD` runs CMD (we are root)")
	}
	failed := 0
	for _, f := range files {
		t0 := time.Now()
		fmt.Printf("== %s\n", f)
		n, skips, err := r.chapter(f)
		for _, s := range skips {
			fmt.Printf("   SKIP %s\n", s)
		}
		if err != nil {
			failed++
			fmt.Printf("   FAIL after %d commands (%.1fs)\n%s\n", n, time.Since(t0).Seconds(), err)
			continue
		}
		fmt.Printf("   ok: %d commands as shown, %d blocks skipped (%.1fs)\n", n, len(skips), time.Since(t0).Seconds())
	}
	if failed > 0 {
		fmt.Printf("chapters: %d of %d chapters do not do what they show\n", failed, len(files))
		return 1
	}
	fmt.Printf("chapters: %d chapters ran as written\n", len(files))
	return 0
}
