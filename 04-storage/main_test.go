package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/internal/testkit"
)

var hexID = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestRunAttachedRelaysOutputAndExitCode(t *testing.T) {
	b := newBox(t)
	out, errOut := random("out-"), random("err-")
	code := 1 + mrand.IntN(100)
	r := b.run("run", "--rm", "busybox", "sh", "-c", fmt.Sprintf("echo %s; echo %s >&2; exit %d", out, errOut, code))
	assert.Equal(t, code, r.Code, r.Stderr)
	assert.Equal(t, out+"\n", r.Stdout)
	assert.Contains(t, r.Stderr, errOut+"\n")
	assert.Empty(t, b.ok("ps", "-aq"), "--rm removes the container")
	b.noMonitors()
}

func TestRunStdin(t *testing.T) {
	b := newBox(t)
	in := random("in-")
	r := b.runIn(in+"\nsecond line\n", "run", "-i", "--rm", "busybox", "cat")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, in+"\nsecond line\n", r.Stdout)
	// Without -i the container's stdin is empty.
	r = b.runIn(in, "run", "--rm", "busybox", "cat")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Empty(t, r.Stdout)
}

func TestRunImageConfigAndFlags(t *testing.T) {
	b := newBox(t)
	val, host := random("v"), random("h")
	r := b.run("run", "--rm", "-e", "MINE="+val, "--hostname", host, "-w", "/srv/x", "-u", "nobody", "busybox",
		"sh", "-c", `echo "$MINE $FROM_IMAGE $(hostname) $(pwd) $(id -u)"`)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, fmt.Sprintf("%s yes %s /srv/x 65534\n", val, host), r.Stdout)
	// -e wins over the image's ENV; the image's WORKDIR is the default.
	r = b.run("run", "--rm", "-e", "FROM_IMAGE=no", "busybox-usr1", "sh", "-c", `echo "$FROM_IMAGE $(pwd)"`)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "no /tmp\n", r.Stdout)
	// --entrypoint replaces the image's command.
	r = b.run("run", "--rm", "--entrypoint", "echo", "busybox", val)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, val+"\n", r.Stdout)
}

func TestRunErrorsAreDockers(t *testing.T) {
	b := newBox(t)
	r := b.run("run", "--rm", "busybox", "no-such-command-"+random(""))
	assert.Equal(t, 127, r.Code, r.Stderr)
	assert.Contains(t, r.Stderr, "executable file not found")
	r = b.run("run", "--rm", "busybox", "/etc")
	assert.Equal(t, 126, r.Code, r.Stderr)
	r = b.run("run", "--rm", "no-such-image-"+random(""))
	assert.Equal(t, 125, r.Code, r.Stderr)
	assert.Contains(t, r.Stderr, "Unable to find image")
	r = b.run("run", "--rm", "--memory", "lots", "busybox", "true")
	assert.Equal(t, 125, r.Code, r.Stderr)
	r = b.run("start", "nope-"+random(""))
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "No such container")
	assert.Empty(t, b.ok("ps", "-aq"), "failed runs leave no container")
}

func TestDetachedLifecycle(t *testing.T) {
	b := newBox(t)
	name, label := random("web-"), random("l")
	id := b.ok("run", "-d", "--name", name, "-l", "team="+label, "busybox", "sh", "-c", "echo started; head -c 100000 /dev/zero >/big; exec sleep 1000")
	require.Regexp(t, hexID, id)

	assert.Equal(t, id[:12], b.ok("ps", "-q"))
	assert.Equal(t, id[:12], b.ok("ps", "-q", "-f", "name="+name))
	assert.Equal(t, id[:12], b.ok("ps", "-q", "-f", "label=team="+label))
	assert.Empty(t, b.ok("ps", "-q", "-f", "label=team=other"))
	assert.Equal(t, id[:12], b.ok("ps", "-q", "-f", "status=running", "-f", "ancestor=busybox"))
	table := strings.Split(b.ok("ps"), "\n")
	require.Len(t, table, 2)
	assert.Regexp(t, `^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$`, table[0])
	assert.Regexp(t, `^`+id[:12]+`\s+busybox\s+"sh -c echo started;…"\s+.* ago\s+Up .*\s+`+name+`$`, table[1])
	assert.Equal(t, name+" running", b.ok("ps", "--format", "{{.Names}} {{.State}}"))
	// -s: the read-write layer holds the file the container wrote (sizes in
	// Docker's units of 1000); the virtual size adds the image's layer.
	waitFor(t, "the written file", func() bool {
		return regexp.MustCompile(`^100kB \(virtual [0-9.]+MB\)$`).MatchString(b.ok("ps", "-s", "--format", "{{.Size}}"))
	})
	assert.Regexp(t, `SIZE$`, strings.Split(b.ok("ps", "-s"), "\n")[0])

	var insp []map[string]any
	require.NoError(t, json.Unmarshal([]byte(b.ok("inspect", name)), &insp))
	require.Len(t, insp, 1)
	assert.Equal(t, id, insp[0]["Id"])
	assert.Equal(t, "/"+name, insp[0]["Name"])
	st := insp[0]["State"].(map[string]any)
	assert.Equal(t, "running", st["Status"])
	assert.Equal(t, true, st["Running"])
	assert.NotZero(t, st["Pid"])
	assert.Equal(t, "running /"+name, b.ok("inspect", "--format", "{{.State.Status}} {{.Name}}", id[:8]))
	waitFor(t, "the log", func() bool { return b.ok("logs", name) == "started" })

	// The init, sleep, ignores SIGTERM (PID 1 has no default actions):
	// stop kills it after -t seconds.
	start := time.Now()
	assert.Equal(t, name, b.ok("stop", "-t", "1", name))
	assert.Less(t, time.Since(start), 8*time.Second)
	assert.Empty(t, b.ok("ps", "-q"))
	assert.Regexp(t, `^Exited \(137\) .* ago$`, b.ok("ps", "-a", "--format", "{{.Status}}"))
	assert.Equal(t, "137", b.ok("wait", name))
	assert.Equal(t, "exited 137 false", b.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}", name))

	// Started again, it runs again and logs a second line.
	b.ok("start", name)
	assert.Equal(t, "running", b.ok("inspect", "-f", "{{.State.Status}}", name))
	waitFor(t, "the second log line", func() bool { return b.ok("logs", name) == "started\nstarted" })
	assert.Equal(t, name, b.ok("kill", name))
	assert.Equal(t, "137", b.ok("wait", name))

	assert.Equal(t, name, b.ok("rm", name))
	assert.Empty(t, b.ok("ps", "-aq"))
	_, err := os.Stat(filepath.Join(b.data, "containers", id))
	assert.True(t, os.IsNotExist(err), "rm removes the state")
	b.noMonitors()
}

func TestNamesAreUnique(t *testing.T) {
	b := newBox(t)
	name := random("n-")
	id := b.ok("create", "--name", name, "busybox", "true")
	r := b.run("create", "--name", name, "busybox", "true")
	assert.Equal(t, 125, r.Code)
	assert.Contains(t, r.Stderr, fmt.Sprintf(`Conflict. The container name "/%s" is already in use by container "%s". You have to remove (or rename) that container to be able to reuse that name.`, name, id))
	// A random name is adjective_surname.
	other := b.ok("create", "busybox", "true")
	assert.Regexp(t, `^[a-z]+_[a-z]+$`, b.ok("inspect", "-f", "{{.Name}}", other)[1:])
	assert.Equal(t, "Created", b.ok("ps", "-a", "-f", "name="+name, "--format", "{{.Status}}"))
	// rename frees the old name.
	newName := random("m-")
	b.ok("rename", name, newName)
	b.ok("create", "--name", name, "busybox", "true")
	assert.Equal(t, "/"+newName, b.ok("inspect", "-f", "{{.Name}}", id))
	b.ok("container", "prune", "-f")
	assert.Empty(t, b.ok("ps", "-aq"))
}

func TestRmRunningNeedsForce(t *testing.T) {
	b := newBox(t)
	name := random("r-")
	b.ok("run", "-d", "--name", name, "busybox", "sleep", "1000")
	r := b.run("rm", name)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, fmt.Sprintf(`Error response from daemon: cannot remove container "/%s": container is running: stop the container before attempting removal or force remove`, name))
	assert.Equal(t, name, b.ok("ps", "--format", "{{.Names}}"))
	assert.Equal(t, name, b.ok("rm", "-f", name))
	assert.Empty(t, b.ok("ps", "-aq"))
}

func TestStopSignalOfTheImage(t *testing.T) {
	b := newBox(t)
	// busybox-usr1's StopSignal is SIGUSR1: the trap decides the code.
	id := b.ok("run", "-d", "busybox-usr1", "sh", "-c", "trap 'exit 42' USR1; while :; do sleep 0.05; done")
	b.ok("stop", id)
	assert.Equal(t, "42", b.ok("wait", id))
	b.ok("rm", id)
}

func TestLogs(t *testing.T) {
	b := newBox(t)
	a, c, e := random("a"), random("c"), random("e")
	id := b.ok("run", "-d", "busybox", "sh", "-c", fmt.Sprintf("echo %s; echo %s >&2; sleep 0.2; echo %s", a, e, c))
	assert.Equal(t, "0", b.ok("wait", id))
	r := b.run("logs", id)
	assert.Equal(t, a+"\n"+c+"\n", r.Stdout)
	assert.Equal(t, e+"\n", r.Stderr)
	assert.Equal(t, c, b.ok("logs", "--tail", "1", id))
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z `+a+`$`, strings.Split(b.ok("logs", "-t", id), "\n")[0])
	assert.Empty(t, b.ok("logs", "--since", time.Now().Add(time.Hour).Format(time.RFC3339), id))
	// The file is Docker's json-file log.
	f, err := os.Open(filepath.Join(b.data, "containers", id, id+"-json.log"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	var streams []string
	for sc.Scan() {
		var l struct{ Log, Stream, Time string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		_, err := time.Parse(time.RFC3339Nano, l.Time)
		require.NoError(t, err)
		streams = append(streams, l.Stream+":"+l.Log)
	}
	assert.ElementsMatch(t, []string{"stdout:" + a + "\n", "stderr:" + e + "\n", "stdout:" + c + "\n"}, streams)
	// -f follows until the container ends.
	id2 := b.ok("run", "-d", "busybox", "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done")
	r = b.run("logs", "-f", id2)
	assert.Equal(t, "line1\nline2\nline3\n", r.Stdout)
	b.ok("rm", id, id2)
}

func TestTwentyParallelRuns(t *testing.T) {
	b := newBox(t)
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := b.run("run", "-d", "busybox", "sleep", "1000")
			if assert.Equal(t, 0, r.Code, r.Stderr) {
				ids[i] = strings.TrimSpace(r.Stdout)
			}
		}()
	}
	wg.Wait()
	got := strings.Fields(b.ok("ps", "-q", "--no-trunc"))
	assert.ElementsMatch(t, ids, got)
	names := map[string]bool{}
	for _, name := range strings.Fields(b.ok("ps", "--format", "{{.Names}}")) {
		names[name] = true
	}
	assert.Len(t, names, n, "distinct names")
	// And 20 parallel rm -f.
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := b.run("rm", "-f", id)
			assert.Equal(t, 0, r.Code, r.Stderr)
		}()
	}
	wg.Wait()
	assert.Empty(t, b.ok("ps", "-aq"))
	b.noMonitors()
}

func TestMonitorKilledPsStillTrue(t *testing.T) {
	b := newBox(t)
	id := b.ok("run", "-d", "busybox", "sleep", "1000")
	st := b.state(id)
	require.NotZero(t, st.MonitorPid)
	require.NoError(t, syscall.Kill(st.MonitorPid, syscall.SIGKILL))
	waitFor(t, "the monitor's end", func() bool { return len(b.monitors()) == 0 })
	// The container lives on: ps says so.
	assert.Regexp(t, `^Up `, b.ok("ps", "--format", "{{.Status}}"))
	// The container ends with nobody to record it: the code is lost (255).
	require.NoError(t, syscall.Kill(st.Pid, syscall.SIGKILL))
	waitFor(t, "the init's end", func() bool {
		return b.ok("ps", "-a", "--format", "{{.Status}}") != "" && strings.HasPrefix(b.ok("ps", "-a", "--format", "{{.Status}}"), "Exited (255)")
	})
	assert.Empty(t, b.ok("ps", "-q"))
	// rm (no -f needed: it is not running) cleans the runtime's state, the
	// cgroup and the mount that the monitor never got to.
	b.ok("rm", id)
	assert.Empty(t, b.ok("ps", "-aq"))
	entries, _ := os.ReadDir(filepath.Join(b.exec, "runtime", "minibox"))
	assert.Empty(t, entries, "runtime state left")

	// Monitor dead, container alive: rm -f kills and cleans it all.
	id = b.ok("run", "-d", "busybox", "sleep", "1000")
	st = b.state(id)
	require.NoError(t, syscall.Kill(st.MonitorPid, syscall.SIGKILL))
	waitFor(t, "the monitor's end", func() bool { return len(b.monitors()) == 0 })
	b.ok("rm", "-f", id)
	assert.Empty(t, b.ok("ps", "-aq"))
	// ... and a container whose monitor died can be started again.
	id = b.ok("run", "-d", "busybox", "sleep", "1000")
	st = b.state(id)
	require.NoError(t, syscall.Kill(st.MonitorPid, syscall.SIGKILL))
	require.NoError(t, syscall.Kill(st.Pid, syscall.SIGKILL))
	waitFor(t, "exited", func() bool { return b.ok("inspect", "-f", "{{.State.Status}}", id) == "exited" })
	b.ok("start", id)
	assert.Equal(t, "running", b.ok("inspect", "-f", "{{.State.Status}}", id))
	b.ok("rm", "-f", id)
}

func TestCLIKilledAtRandomMoments(t *testing.T) {
	b := newBox(t)
	for i := range 3 {
		for _, op := range []string{"run", "stop", "rm"} {
			var id string
			if op != "run" {
				id = b.ok("run", "-d", "busybox", "sleep", "1000")
			}
			var cmd = b.command("run", "busybox", "sleep", "1000")
			switch op {
			case "stop":
				cmd = b.command("stop", "-t", "1", id)
			case "rm":
				cmd = b.command("rm", "-f", id)
			}
			require.NoError(t, cmd.Start())
			time.Sleep(time.Duration(mrand.IntN(400)) * time.Millisecond)
			cmd.Process.Kill()
			cmd.Wait()
			// Whatever the moment, ps tells the truth and rm -f cleans up.
			for _, line := range strings.Split(b.ok("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.State}}"), "\n") {
				if line == "" {
					continue
				}
				f := strings.Fields(line)
				st := b.state(f[0])
				_, pstate, ok := testkit.StatOf(st.Pid)
				alive := st.Pid != 0 && ok && pstate != "Z"
				if f[1] == "running" && !alive {
					// Only while its monitor records the exit.
					waitFor(t, "the exit recorded", func() bool {
						return b.ok("inspect", "-f", "{{.State.Status}}", f[0]) != "running"
					})
				} else if alive && st.Running {
					// The monitor may have started it between ps and now:
					// then ps must say so now.
					assert.Equal(t, "running", b.ok("inspect", "-f", "{{.State.Status}}", f[0]), "round %d, %s: ps says %s, but the init runs", i, op, f[1])
				}
				b.ok("rm", "-f", f[0])
			}
			assert.Empty(t, b.ok("ps", "-aq"))
			b.noMonitors()
		}
	}
}

func TestRuncRunsTheSameBundle(t *testing.T) {
	b := newBox(t)
	// One subtest, named as the runtime, so that a machine without runc
	// (the cgroup v2 VM) can skip it: -test.skip=/^runc$
	t.Run("runc", func(t *testing.T) {
		host := random("h")
		script := `echo "$(hostname) $(cat /proc/1/comm) $(id -u) $FROM_IMAGE"; ls /`
		ours := b.run("run", "--rm", "--hostname", host, "busybox", "sh", "-c", script)
		require.Equal(t, 0, ours.Code, ours.Stderr)
		theirs := b.run("run", "--rm", "--runtime", "runc", "--hostname", host, "busybox", "sh", "-c", script)
		require.Equal(t, 0, theirs.Code, theirs.Stderr)
		assert.Equal(t, ours.Stdout, theirs.Stdout)
		assert.True(t, strings.HasPrefix(ours.Stdout, host+" sh 0 yes\n"), ours.Stdout)
		// A detached one under runc: stop, logs and rm work the same.
		id := b.ok("run", "-d", "--runtime", "runc", "busybox", "sh", "-c", "echo hi; exec sleep 1000")
		assert.Equal(t, "runc", b.ok("inspect", "-f", "{{.HostConfig.Runtime}}", id))
		waitFor(t, "the log", func() bool { return b.ok("logs", id) == "hi" })
		b.ok("stop", "-t", "0", id)
		assert.Equal(t, "137", b.ok("wait", id))
		b.ok("rm", id)
		r := b.run("run", "--rm", "--runtime", "nope", "busybox", "true")
		assert.Equal(t, 125, r.Code)
		assert.Contains(t, r.Stderr, "unknown or invalid runtime name: nope")
	})
}

func TestStartAttachAndTop(t *testing.T) {
	b := newBox(t)
	word := random("w")
	id := b.ok("create", "busybox", "sh", "-c", "echo "+word+"; exit 5")
	assert.Equal(t, "Created", b.ok("ps", "-a", "--format", "{{.Status}}"))
	r := b.run("start", "-a", id)
	assert.Equal(t, 5, r.Code, r.Stderr)
	assert.Equal(t, word+"\n", r.Stdout)
	assert.Regexp(t, `^Exited \(5\) `, b.ok("ps", "-a", "--format", "{{.Status}}"))

	id2 := b.ok("run", "-d", "busybox", "sh", "-c", "sleep 1000 & wait")
	top := b.ok("top", id2)
	assert.Contains(t, top, "sleep 1000")
	assert.Contains(t, top, "sh -c")
	b.ok("restart", "-t", "0", id2)
	assert.Equal(t, "running", b.ok("inspect", "-f", "{{.State.Status}}", id2))
	b.ok("rm", "-f", id, id2)
}

func TestSecondsInStatus(t *testing.T) {
	b := newBox(t)
	before := time.Now()
	id := b.ok("run", "-d", "busybox", "sleep", "1000")
	after := time.Now()
	time.Sleep(2100 * time.Millisecond)
	// The container was created and started somewhere between before and
	// after, so the seconds shown lie between these two bounds (however
	// slow this machine is).
	seconds := func(re, text string) {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		require.NotNil(t, m, "%q matches %s", text, re)
		n, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		lo, hi := int(time.Since(after).Seconds())-1, int(time.Since(before).Seconds())+1
		assert.True(t, lo <= n && n <= hi, "%q: %d seconds, want %d..%d", text, n, lo, hi)
	}
	seconds(`^Up (\d+) seconds$`, b.ok("ps", "--format", "{{.Status}}"))
	seconds(`^(\d+) seconds ago$`, b.ok("ps", "--format", "{{.RunningFor}}"))
	var row map[string]string
	require.NoError(t, json.Unmarshal([]byte(b.ok("ps", "--format", "json")), &row))
	assert.Equal(t, id[:12], row["ID"])
	assert.Equal(t, `"sleep 1000"`, row["Command"])
	seconds(`^(\d+) seconds ago$`, row["RunningFor"])
	b.ok("rm", "-f", id)
}

func TestMonitorKilledDuringStop(t *testing.T) {
	b := newBox(t)
	for range 3 {
		id := b.ok("run", "-d", "busybox", "sleep", "1000")
		st := b.state(id)
		stop := b.command("stop", "-t", "1", id)
		require.NoError(t, stop.Start())
		time.Sleep(time.Duration(mrand.IntN(1500)) * time.Millisecond)
		syscall.Kill(st.MonitorPid, syscall.SIGKILL)
		stop.Wait()
		waitFor(t, "the monitor's end", func() bool { return len(b.monitors()) == 0 })
		status := b.ok("inspect", "-f", "{{.State.Status}}", id)
		_, state, ok := testkit.StatOf(st.Pid)
		if ok && state != "Z" {
			assert.Equal(t, "running", status)
		} else {
			assert.Equal(t, "exited", status)
		}
		b.ok("rm", "-f", id)
		assert.Empty(t, b.ok("ps", "-aq"))
	}
}
