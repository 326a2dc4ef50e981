package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"minibox/02-cgroups/cgroups"
)

// The monitor is what conmon is to podman and containerd-shim to Docker:
// one process per running container, the one that waits for it. It is this
// program re-executed as `PROGRAM __minibox-monitor DATAROOT EXECROOT ID
// ATTACH`, detached from the CLI that started it, so the container's output
// is logged, its exit code recorded and an --rm container removed even when
// nobody is attached any more.

// IsMonitor says whether this process was started as a monitor. The
// program's main checks it first thing, as it checks for the container's
// init, and then calls RunMonitor.
func IsMonitor() bool { return len(os.Args) == 6 && os.Args[1] == MonitorArg }

// RunMonitor is the monitor's main; it never returns. newEngine builds the
// engine with the program's Storage, Images and Networks for the roots.
func RunMonitor(newEngine func(dataRoot, execRoot string) (*Engine, error)) {
	// Inherited descriptors are not close-on-exec: mark them, or the
	// runtime and the container would inherit the lock and the pipes.
	for fd := 3; fd <= 5; fd++ {
		unix.CloseOnExec(fd)
	}
	reply := os.NewFile(3, "reply")
	lk := &lock{os.NewFile(4, "lock")}
	var attach *os.File
	if os.Args[5] == "1" {
		attach = os.NewFile(5, "attach")
	}
	// The CLI's terminal may hang up or its user press Ctrl-C: those are
	// the CLI's business. (A monitor in its own session gets neither, but
	// a careless `kill -INT` of the process group should not end it.)
	// Caught, not ignored: an ignored signal stays ignored across execve,
	// and the runtime and the container would inherit that (signal(7)).
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGPIPE)
	go func() {
		for range sigs {
		}
	}()
	e, err := newEngine(os.Args[2], os.Args[3])
	if err != nil {
		sendReply(reply, monitorReply{Code: 125, Error: err.Error()})
		os.Exit(1)
	}
	m := &monitor{e: e, id: os.Args[4], reply: reply, lock: lk}
	os.Exit(m.run(attach))
}

func sendReply(w *os.File, r monitorReply) {
	if w == nil {
		return
	}
	data, _ := json.Marshal(r) // plain fields: cannot fail
	w.Write(data)
	w.Close()
}

type monitor struct {
	e     *Engine
	id    string
	reply *os.File // the CLI waits on it for the first start
	lock  *lock    // the CLI's lock, held until the first start is done
	c     *Container
	rt    *ociRuntime
	hub   *hub
	out   sync.WaitGroup // the output copiers of the current run
	delay time.Duration  // the last restart's delay (restart.go)
}

// Decision is what the monitor does after the container exited.
type Decision struct {
	Restart bool
	Delay   time.Duration
}

// decide applies the container's restart policy (no, on-failure[:N],
// always, unless-stopped, with Docker's growing delay: restart.go) to how
// it ended.
func (m *monitor) decide(st State) Decision {
	return m.restartDecision(st)
}

func (m *monitor) fail(err error) int {
	code := 125
	var se *StartError
	if errors.As(err, &se) {
		code = se.Code
	} else if c := startCode(err.Error()); c != 125 {
		code = c
	}
	m.e.teardown(m.c)
	if st, lerr := m.e.loadState(m.id); lerr == nil {
		if st.Status != "exited" {
			st.Status = "created"
		}
		st.Running, st.Pid, st.ExitCode, st.Error = false, 0, code, err.Error()
		st.MonitorPid, st.MonitorStart = 0, 0
		m.e.saveState(m.id, st)
	}
	sendReply(m.reply, monitorReply{Code: code, Error: err.Error()})
	m.lock.unlock()
	if m.hub != nil {
		m.hub.exit(code)
	}
	return 1
}

func (m *monitor) run(attach *os.File) int {
	var err error
	if m.c, err = m.e.load(m.id); err != nil {
		sendReply(m.reply, monitorReply{Code: 125, Error: err.Error()})
		return 1
	}
	rt, err := m.e.loadRuntime(m.id)
	if err != nil {
		return m.fail(err)
	}
	m.rt = m.e.runtimeFor(m.id, rt)
	// PR_SET_CHILD_SUBREAPER: orphans below us are re-parented to us, not
	// to PID 1. `runtime create` leaves the container's init behind when
	// it exits, so the init becomes our child and we can wait4(2) it for
	// its exit status (prctl(2)).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return m.fail(fmt.Errorf("monitor: PR_SET_CHILD_SUBREAPER: %w", err))
	}
	logw, err := openLog(m.e.LogPath(m.id))
	if err != nil {
		return m.fail(err)
	}
	defer logw.close()
	m.hub = newHub(logw)
	if attach != nil {
		conn, err := net.FileConn(attach)
		attach.Close()
		if err != nil {
			return m.fail(fmt.Errorf("monitor: the attach socket: %w", err))
		}
		m.hub.serve(conn)
	}
	sock := m.e.attachSocket(m.id)
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return m.fail(fmt.Errorf("monitor: listen on %s: %w", sock, err))
	}
	defer func() { ln.Close(); os.Remove(sock) }()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			m.hub.serve(conn)
		}
	}()

	first := true
	for {
		// m.lock is the container's lock, held through the whole start:
		// the CLI's on the first start, our own on a restart.
		published, err := m.publish()
		var pid int
		var start uint64
		if err == nil {
			if pid, start, err = m.launch(); err != nil {
				published.Close()
			}
		}
		self, _ := startTime(os.Getpid())
		st := State{
			Status: "running", Running: true, Pid: pid, PidStart: start,
			StartedAt: time.Now().UTC(), MonitorPid: os.Getpid(), MonitorStart: self,
		}
		if err == nil {
			if err = m.e.saveState(m.id, st); err != nil {
				published.Close()
			}
		}
		if err != nil {
			if first {
				return m.fail(err)
			}
			return m.restartFailed(logw, err)
		}
		stopHealth := m.startHealth(st) // health.go
		if first {
			sendReply(m.reply, monitorReply{Pid: pid})
			m.reply = nil
			first = false
		}
		m.lock.unlock()

		code := m.wait(pid, start)
		stopHealth()
		m.waitOutput()
		logw.flush()
		st.ExitCode = code
		st.OOMKilled = m.oomKilled()
		st.FinishedAt = time.Now().UTC()
		published.Close()
		// The teardown and what follows hold the container's lock: a
		// `network connect` or `disconnect` (lesson 05) works on the
		// namespace and the config under it, and must not meet a
		// teardown halfway. The config is read again under the lock:
		// theirs, a rename's, may have changed it since we read it.
		if m.lock, err = m.e.lock(m.id); err != nil {
			// Removed meanwhile (rm -f tears down itself); an error of
			// the lock itself is reported as the container's.
			if !errors.Is(err, ErrNotFound) {
				logw.write("stderr", []byte("minibox: "+err.Error()+"\n"))
				m.e.teardown(m.c)
				m.hub.exit(code)
				return 1
			}
			m.hub.exit(code)
			return 0
		}
		var errs []error
		if c, err := m.e.load(m.id); err != nil {
			errs = append(errs, err)
		} else {
			m.c = c
		}
		if err := m.e.teardown(m.c); err != nil {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			st.Error = err.Error()
		}
		d := m.decide(st)
		if TestDecide != nil {
			d = TestDecide(m.c, st)
		}
		if !d.Restart {
			m.finish(st)
			return 0
		}
		// The lock is free while we wait, for the commands that change
		// a stopped container (rename, network connect, ...); we take it
		// again to restart, with the config as it is then.
		if done, code := m.backoff(logw, st, d.Delay); done {
			return code
		}
		if err := m.e.writeBundle(m.c); err != nil {
			return m.restartFailed(logw, err)
		}
	}
}

// TestDecide, when set, is asked after decide: the program's tests restart
// a container through it without a restart policy. The test
// binary, which is also the program and so the monitor, sets it before its
// main runs; the program leaves it nil.
var TestDecide func(c *Container, st State) Decision

// restartFailed ends the container when a restart could not be made (its
// config not saved, its bundle not written, the runtime failed): the error
// goes to its log and to its state, with exit code 125, as Docker's does.
// The caller holds m.lock.
func (m *monitor) restartFailed(logw *logWriter, err error) int {
	logw.write("stderr", []byte("minibox: restart failed: "+err.Error()+"\n"))
	st := State{ExitCode: 125, Error: err.Error()}
	if terr := m.e.teardown(m.c); terr != nil {
		st.Error += "; " + terr.Error()
	}
	m.finish(st)
	return 1
}

// finish records the end (or removes an --rm container) and tells the
// attached clients; the caller holds m.lock, which finish releases.
func (m *monitor) finish(st State) {
	st.Status, st.Running, st.Pid = "exited", false, 0
	if st.FinishedAt.IsZero() {
		st.FinishedAt = time.Now().UTC()
	}
	// The monitor's PID stays recorded until it has exited: Start waits
	// for it and Remove lets it finish.
	st.MonitorPid = os.Getpid()
	st.MonitorStart, _ = startTime(os.Getpid())
	if old, err := m.e.loadState(m.id); err == nil {
		st.StartedAt = old.StartedAt
	}
	if err := m.e.saveState(m.id, st); err != nil {
		m.hub.output(frameStderr, "stderr", []byte("minibox: record the exit: "+err.Error()+"\n"))
	}
	if m.c.HostConfig.AutoRemove {
		if err := m.e.destroy(m.c, true); err != nil {
			m.hub.output(frameStderr, "stderr", []byte("minibox: --rm: "+err.Error()+"\n"))
		}
	}
	m.lock.unlock()
	m.hub.exit(st.ExitCode)
}

// publish opens the container's published ports (lesson 05's Publisher)
// and records the host ports they got; nothing to publish is a no-op
// closer. It runs before the runtime's create: a port already taken fails
// the start with nothing left running.
func (m *monitor) publish() (io.Closer, error) {
	pub, ok := m.e.opts.Networks.(Publisher)
	if !ok {
		return nopCloser{}, nil
	}
	c, err := pub.Publish(m.c)
	if err != nil {
		return nopCloser{}, err
	}
	if err := m.e.saveConfig(m.c); err != nil {
		c.Close()
		return nopCloser{}, err
	}
	return c, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// launch runs the runtime's create, with the container's stdio made here,
// and then start. It returns the init's PID and start time.
func (m *monitor) launch() (int, uint64, error) {
	os.Remove(m.rt.log)
	pidFile := filepath.Join(m.e.execDir(m.id), "init.pid")
	os.Remove(pidFile)
	args := []string{"create", "--bundle", m.e.bundleDir(m.id), "--pid-file", pidFile}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, 0, err
	}
	defer devnull.Close()
	cmd := m.rt.command()
	var child []*os.File // the container's ends, closed here once create is done
	defer func() {
		for _, f := range child {
			f.Close()
		}
	}()
	var console chan *os.File
	var consoleErr chan error
	if m.c.Config.Tty {
		// The init makes the pty inside the container and sends us the
		// master over the console socket (SCM_RIGHTS), as runc does.
		sockPath := m.e.consoleSocket(m.id)
		os.Remove(sockPath)
		ln, err := net.Listen("unix", sockPath)
		if err != nil {
			return 0, 0, fmt.Errorf("console socket: %w", err)
		}
		defer ln.Close()
		console, consoleErr = make(chan *os.File, 1), make(chan error, 1)
		go func() {
			f, err := receiveConsole(ln.(*net.UnixListener))
			if err != nil {
				consoleErr <- err
				return
			}
			console <- f
		}()
		args = append(args, "--console-socket", sockPath)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	} else {
		outR, outW, err := os.Pipe()
		if err != nil {
			return 0, 0, err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			return 0, 0, err
		}
		child = append(child, outW, errW)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, outW, errW
		if m.c.Config.OpenStdin {
			inR, inW, err := os.Pipe()
			if err != nil {
				return 0, 0, err
			}
			child = append(child, inR)
			cmd.Stdin = inR
			m.hub.mu.Lock()
			m.hub.stdin = inW
			m.hub.mu.Unlock()
		}
		m.out.Add(2)
		go func() { defer m.out.Done(); m.hub.copy(frameStdout, "stdout", outR); outR.Close() }()
		go func() { defer m.out.Done(); m.hub.copy(frameStderr, "stderr", errR); errR.Close() }()
	}
	cmd.Args = append(cmd.Args, append(args, m.id)...)
	// Should we die during the create, the runtime finishes it (killed
	// halfway, it could leave an init that no cgroup holds); whoever tears
	// the container down waits for it first (waitRuntimeIdle).
	if err := m.rt.explain("create", cmd.Run(), ""); err != nil {
		m.closeChild(child)
		child = nil
		return 0, 0, err
	}
	m.closeChild(child)
	child = nil
	if console != nil {
		select {
		case master := <-console:
			m.hub.mu.Lock()
			if m.c.Config.OpenStdin {
				m.hub.stdin = master
			}
			m.hub.resize = func(cols, rows uint16) {
				unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows})
			}
			m.hub.mu.Unlock()
			m.out.Add(1)
			go func() { defer m.out.Done(); m.hub.copy(frameStdout, "stdout", master) }()
		case err := <-consoleErr:
			return 0, 0, err
		case <-time.After(30 * time.Second):
			return 0, 0, errors.New("the runtime sent no console")
		}
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, 0, fmt.Errorf("read the runtime's pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, 0, fmt.Errorf("the runtime's pid file: %w", err)
	}
	start, ok := startTime(pid)
	if !ok {
		return 0, 0, fmt.Errorf("the container's init (%d) is gone", pid)
	}
	// Written ahead of the start: were we killed during it, the engine
	// knows the init to ask the runtime about, and to kill (observeStarting).
	if err := m.recordStarting(pid, start); err != nil {
		return 0, 0, err
	}
	if err := m.rt.start(m.id); err != nil {
		return 0, 0, err
	}
	return pid, start, nil
}

// recordStarting records the created init with our PID, under the
// container's lock: the CLI's during the first start, our own later.
func (m *monitor) recordStarting(pid int, start uint64) error {
	self, _ := startTime(os.Getpid())
	save := func() error {
		st, err := m.e.loadState(m.id)
		if err != nil {
			return err
		}
		st.Status, st.Running, st.Pid, st.PidStart = "created", false, pid, start
		st.MonitorPid, st.MonitorStart = os.Getpid(), self
		return m.e.saveState(m.id, st)
	}
	if m.lock != nil && m.lock.f != nil {
		return save()
	}
	l, err := m.e.lock(m.id)
	if err != nil {
		return err
	}
	defer l.unlock()
	return save()
}

func (m *monitor) closeChild(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// receiveConsole accepts the runtime's connection and takes the pty master
// out of its SCM_RIGHTS message.
func receiveConsole(ln *net.UnixListener) (*os.File, error) {
	ln.SetDeadline(time.Now().Add(30 * time.Second))
	conn, err := ln.AcceptUnix()
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	buf := make([]byte, 64)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("console socket: no descriptor received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("console socket: no descriptor received")
	}
	unix.CloseOnExec(fds[0])
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// wait waits for the init to end and returns its status as a shell would:
// the exit code, or 128+N when signal N killed it.
func (m *monitor) wait(pid int, start uint64) int {
	var ws unix.WaitStatus
	for {
		// Any child: processes of `exec -d` are orphaned to us too (we are
		// the subreaper) and must be reaped, or they stay zombies.
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == nil && got != pid {
			reaped(got, ws) // a healthcheck's (health.go), or an orphan
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// Not our child (a runtime that keeps a process of its own
			// as the init's parent): watch it instead; the code is lost.
			for alive(pid, start) {
				time.Sleep(50 * time.Millisecond)
			}
			return 255
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// waitOutput lets the copiers drain the pipes. Processes that outlived the
// init (none in a PID namespace) may keep them open: do not wait forever.
func (m *monitor) waitOutput() {
	done := make(chan struct{})
	go func() { m.out.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	m.hub.mu.Lock()
	if m.hub.stdin != nil {
		m.hub.stdin.Close()
		m.hub.stdin = nil
	}
	m.hub.mu.Unlock()
}

func (m *monitor) oomKilled() bool {
	mgr, err := cgroups.New(cgroups.DefaultRoot, CgroupPath(m.id))
	if err != nil {
		return false
	}
	n, err := mgr.OOMKills()
	return err == nil && n > 0
}
