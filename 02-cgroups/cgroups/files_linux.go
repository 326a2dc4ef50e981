package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A cgroup is driven entirely through files. These helpers name the file
// and the value in every error, so that "invalid argument" says which limit
// the kernel refused.

// write is one value for one file of a cgroup.
type write struct {
	file, value string
}

// setting is one step of what a driver writes for a container's limits:
// the first of its choices whose file exists is written. A kernel may lack
// a file (swap accounting off, no CFQ or BFQ scheduler): with missing set,
// that is a warning and the setting is skipped; without, an error.
//
// The drivers compute their settings from the spec alone (v1Settings,
// v2Settings: no file is read), and apply writes them, so what goes where
// can be tested without root.
type setting struct {
	choices []write
	missing string
}

// setFile is a setting of one file that must exist.
func setFile(file, value string) setting { return setting{choices: []write{{file, value}}} }

// apply writes the settings. dirOf says in which directory a file lives
// (v1: its controller's), or why there is none; absent explains a file
// that must exist and does not.
func apply(settings []setting, dirOf func(file string) (string, error), absent func(file string) error) (warnings []string, err error) {
	for _, s := range settings {
		done := false
		for _, w := range s.choices {
			dir, err := dirOf(w.file)
			if err != nil {
				return nil, err
			}
			if !exists(dir, w.file) {
				continue
			}
			if err := writeFile(dir, w.file, w.value); err != nil {
				return nil, err
			}
			done = true
			break
		}
		switch {
		case done:
		case s.missing != "":
			warnings = append(warnings, s.missing)
		default:
			return nil, absent(s.choices[0].file)
		}
	}
	return warnings, nil
}

// controllerOf is the controller a cgroup file belongs to: the part of its
// name before the first dot ("memory.max" -> memory).
func controllerOf(file string) string {
	c, _, _ := strings.Cut(file, ".")
	return c
}

func writeFile(dir, file, value string) error {
	p := filepath.Join(dir, file)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	_, werr := f.WriteString(value)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, werr)
	}
	if cerr != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, cerr)
	}
	return nil
}

func exists(dir, file string) bool {
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

func readString(dir, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// readUint reads a file holding one number; "max" reads as MaxUint64.
func readUint(dir, file string) (uint64, error) {
	s, err := readString(dir, file)
	if err != nil {
		return 0, err
	}
	if s == "max" {
		return math.MaxUint64, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", filepath.Join(dir, file), err)
	}
	return n, nil
}

// readKeyed reads a "flat keyed" file (memory.events, cpu.stat,
// memory.oom_control): one "key value" pair per line.
func readKeyed(dir, file string) (map[string]uint64, error) {
	s, err := readString(dir, file)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

// OOMKillCount reads the oom_kill counter out of a flat keyed file: v2's
// memory.events or v1's memory.oom_control both carry a line "oom_kill N",
// the number of processes the kernel's OOM killer killed in the cgroup.
func OOMKillCount(text string) (uint64, error) {
	// LAB 02.3 BEGIN: find the oom_kill line and read its number
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) != 2 || fields[0] != "oom_kill" {
			continue
		}
		n, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("oom_kill: %q is not a number", fields[1])
		}
		return n, nil
	}
	return 0, errors.New("no oom_kill line: the kernel is older than 4.13")
	// LAB 02.3 END
	// LAB 02.3 STUB: return 0, lab.Todo("02.3")
}

// drain kills every process in the cgroup at dir and waits until none is
// left, so that the directory can be removed. thaw, when not nil, is called
// once every process has been sent SIGKILL: v1 freezes the cgroup first, so
// that nothing can fork during the kill, and a frozen process dies only once
// thawed.
func drain(dir string, thaw func() error) error {
	// LAB 02.4 BEGIN: kill everything in the cgroup, wait until it is empty
	if exists(dir, "cgroup.kill") {
		// v2 since Linux 5.14: one write kills the whole subtree, and no
		// process can fork its way out in between.
		if err := writeFile(dir, "cgroup.kill", "1"); err != nil {
			return err
		}
	} else if err := killAll(dir); err != nil {
		return err
	}
	if thaw != nil {
		if err := thaw(); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := readPids(dir)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: processes %v survived SIGKILL for 10s", dir, pids)
		}
		if err := killAll(dir); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	// LAB 02.4 END
	// LAB 02.4 STUB: lab.Warn("02.4")
	// LAB 02.4 STUB: return nil
}

// killAll sends SIGKILL to every process listed in the cgroup at dir.
func killAll(dir string) error {
	pids, err := readPids(dir)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		// ESRCH: it died between the read and the kill.
		if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill %d in %s: %w", pid, dir, err)
		}
	}
	return nil
}

// pidsStats reads the pids controller's peak and limit, which have the
// same files on v1 and v2. pids.peak is missing before Linux 6.1.
func pidsStats(dir string, s *Stats) {
	var err error
	if s.PidsPeak, err = readUint(dir, "pids.peak"); err == nil {
		s.HasPidsPeak = true
	}
	if l, err := readUint(dir, "pids.max"); err == nil && l < 1<<62 {
		s.PidsLimit = int64(l)
	}
}

func readPids(dir string) ([]int, error) {
	s, err := readString(dir, "cgroup.procs")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s/cgroup.procs: %w", dir, err)
	}
	var pids []int
	for _, f := range strings.Fields(s) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// ExistsError says that the cgroup a Create was to make is there already:
// another container (or one that was not deleted) uses it. Two containers
// must never share a cgroup: deleting one would kill the other.
// errors.Is(err, fs.ErrExist) holds for it.
type ExistsError struct {
	Path string // the cgroup, e.g. /minibox/web
	Dir  string // the directory that exists
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("cgroup %s already exists: another container uses it (%s)", e.Path, e.Dir)
}

// Is makes errors.Is(err, fs.ErrExist) true.
func (e *ExistsError) Is(target error) bool { return target == fs.ErrExist }

// mkdirs creates the cgroup directory p under mount one level at a time
// and returns the directories it created, top down. The levels above p may
// exist (other containers share them); p itself must not: mkdir(2) is the
// one atomic test-and-create the filesystem offers, so of two Creates of
// the same cgroup exactly one gets it, and the other an *ExistsError. (A
// stat(2) first and a mkdir later would let both pass.) A concurrent
// Destroy may remove a shared level between two of our steps (ENOENT):
// then we start over.
func mkdirs(mount, p string) ([]string, error) {
	var made []string
	for try := 0; ; try++ {
		m, err := mkdirsOnce(mount, p)
		made = append(made, m...)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || try == 4 {
			return made, err
		}
	}
}

func mkdirsOnce(mount, p string) ([]string, error) {
	var made []string
	parts := strings.Split(strings.Trim(p, "/"), "/")
	dir := mount
	for i, part := range parts {
		dir = filepath.Join(dir, part)
		err := os.Mkdir(dir, 0o755)
		last := i == len(parts)-1
		switch {
		case err == nil:
			made = append(made, dir)
		case errors.Is(err, fs.ErrExist) && !last:
			// A shared level: some other container made it.
		case errors.Is(err, fs.ErrExist):
			return made, &ExistsError{Path: p, Dir: dir}
		default:
			return made, fmt.Errorf("create cgroup %s: %w", dir, err)
		}
	}
	return made, nil
}

// removeMade undoes a Create of cgroup p that failed: it removes the
// directories that Create made (bottom up, in every hierarchy) and nothing
// else, so that a failed Create never touches a cgroup that was there
// before it. A shared level above p that another container has entered in
// the meantime is busy and stays; p's own directories hold no process yet
// and must go.
func removeMade(made []string, p string) error {
	var errs []error
	for i := len(made) - 1; i >= 0; i-- {
		err := unix.Rmdir(made[i])
		own := strings.HasSuffix(made[i], filepath.FromSlash(p))
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
		case !own && (errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOTEMPTY)):
		default:
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", made[i], err))
		}
	}
	return errors.Join(errs...)
}

// rmdirs removes the container's cgroup directory and then, if no other
// container uses it any more, the shared prefix directory above it.
func rmdirs(mount, p string) error {
	dir := joinRoot(mount, p)
	// A killed task leaves cgroup.procs before it has fully exited (a large
	// process takes a while to free its memory); until then rmdir says
	// EBUSY. Wait up to 10s, checking often at first.
	var err error
	for wait, deadline := time.Millisecond, time.Now().Add(10*time.Second); ; wait = min(2*wait, 100*time.Millisecond) {
		if err = unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
			err = nil
			break
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			break
		}
		if pids, _ := readPids(dir); len(pids) > 0 {
			err = fmt.Errorf("%w: processes %v are still in it", err, pids)
			break // not exiting: nobody killed them
		}
		time.Sleep(wait)
	}
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	removeEmptyAbove(mount, p)
	return nil
}

// removeEmptyAbove removes the levels above cgroup p in one hierarchy, up
// to and including the prefix, as long as they are empty: "busy" means
// another container still uses them.
func removeEmptyAbove(mount, p string) {
	for parent := path.Dir(p); parent != "/" && parent != "."; parent = path.Dir(parent) {
		if unix.Rmdir(joinRoot(mount, parent)) != nil {
			break
		}
	}
}

// RemoveEmptyParents removes, in every hierarchy under root (DefaultRoot
// when empty), the levels above cgroup p up to and including Prefix that
// no container uses any more. Our Destroy does this itself; runc and crun
// remove only the container's own cgroup and leave the levels they made
// above it (a /minibox in every hierarchy), so the engine calls this after
// another runtime has deleted a container.
func RemoveEmptyParents(root, p string) error {
	if root == "" {
		root = DefaultRoot
	}
	cp, err := CleanPath(p)
	if err != nil {
		return err
	}
	mounts, err := Mounts(root)
	if err != nil {
		return fmt.Errorf("list cgroup mounts: %w", err)
	}
	for _, m := range mounts {
		removeEmptyAbove(m.Point, cp)
	}
	return nil
}
