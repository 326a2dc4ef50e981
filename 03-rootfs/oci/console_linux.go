package oci

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/initproto"
)

// consoleFd is where create hands the init the console socket.
const consoleFd = initproto.ExtraFd + 1

// Console is an initproto.Step for a container with process.terminal, run
// after the root filesystem is in place. The runtime handed the init a
// console socket (create's --console-socket, or a socket pair of its own
// for `run -t`); the init opens a pty from the container's own /dev/ptmx
// (so `tty` inside names /dev/pts/0 of the container's devpts, and none of
// the host's terminals is in reach), sends the master end over the socket
// as an SCM_RIGHTS message (the way runc hands it to containerd), and makes
// the slave its stdin, stdout, stderr and controlling terminal.
func Console(spec *specs.Spec) error {
	if !initproto.ExtraFile(consoleFd) {
		return nil
	}
	defer unix.Close(consoleFd)
	if spec.Process == nil || !spec.Process.Terminal {
		return nil
	}
	master, slave, err := openPty()
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	defer unix.Close(master)
	if cs := spec.Process.ConsoleSize; cs != nil {
		ws := &unix.Winsize{Row: uint16(cs.Height), Col: uint16(cs.Width)}
		if err := unix.IoctlSetWinsize(slave, unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("console: set the window size: %w", err)
		}
	}
	if err := unix.Sendmsg(consoleFd, []byte("console"), unix.UnixRights(master), nil, 0); err != nil {
		return fmt.Errorf("console: send the pty master over the console socket: %w", err)
	}
	// A new session with the slave as its controlling terminal: the
	// line discipline then turns Ctrl-C into SIGINT for the program.
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("console: setsid: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("console: make the pty the standard streams: %w", err)
		}
	}
	unix.Close(slave)
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("console: TIOCSCTTY: %w", err)
	}
	return nil
}

// openPty opens a new pty pair from /dev/ptmx, as posix_openpt(3),
// unlockpt(3) and ptsname(3) do.
func openPty() (master, slave int, err error) {
	master, err = unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(master)
		return -1, -1, fmt.Errorf("unlock the pty: %w", err)
	}
	// TIOCGPTPEER opens the slave through the master: no path lookup, so
	// it is the slave of this very devpts instance.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY)
	if slave = int(r); errno != 0 {
		err = errno
		unix.Close(master)
		return -1, -1, fmt.Errorf("open the pty slave: %w", err)
	}
	return master, slave, nil
}

// ReceiveConsole reads the pty master that a container's init sent over
// the console socket sock (the receiving side of --console-socket).
func ReceiveConsole(sock *os.File) (*os.File, error) {
	buf := make([]byte, 32)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive the container's console: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, errors.New("receive the container's console: no descriptor in the message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("receive the container's console: expected one descriptor")
	}
	return os.NewFile(uintptr(fds[0]), "console"), nil
}
