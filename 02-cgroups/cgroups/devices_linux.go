package cgroups

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// attachDevicesProgram loads prog (see devicesProgram) into the kernel and
// attaches it to the cgroup v2 directory dir with bpf(2). The attachment
// keeps the program alive; it goes away with the cgroup. BPF_F_ALLOW_MULTI
// lets it live beside a program of a parent cgroup (systemd attaches its
// own): a device must then pass both.
func attachDevicesProgram(dir string, prog []byte) error {
	fd, err := loadDevicesProgram(prog, nil)
	if err != nil {
		// Again, with the verifier's log, to say why. (Asking for the log
		// the first time fails a good program whose log does not fit.)
		logBuf := make([]byte, 64<<10)
		if again, err := loadDevicesProgram(prog, logBuf); err == nil {
			unix.Close(int(again))
		}
		return fmt.Errorf("load the device rules as an eBPF program (bpf BPF_PROG_LOAD): %w: %s", err, cString(logBuf))
	}
	defer unix.Close(int(fd))
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	attach := struct {
		targetFd    uint32
		attachBpfFd uint32
		attachType  uint32
		attachFlags uint32
	}{uint32(d.Fd()), uint32(fd), unix.BPF_CGROUP_DEVICE, unix.BPF_F_ALLOW_MULTI}
	defer runtime.KeepAlive(d)
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&attach)), unsafe.Sizeof(attach))
	if errno != 0 {
		return fmt.Errorf("attach the device rules to %s (bpf BPF_PROG_ATTACH): %w", dir, errno)
	}
	return nil
}

// loadDevicesProgram is bpf(BPF_PROG_LOAD) of a cgroup device program;
// with logBuf, the verifier writes its log there.
func loadDevicesProgram(prog, logBuf []byte) (uintptr, error) {
	license := []byte("Apache-2.0\x00")
	load := struct {
		progType    uint32
		insnCnt     uint32
		insns       uint64
		license     uint64
		logLevel    uint32
		logSize     uint32
		logBuf      uint64
		kernVersion uint32
		progFlags   uint32
	}{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(prog) / 8),
		insns:    uint64(uintptr(unsafe.Pointer(&prog[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	if len(logBuf) > 0 {
		load.logLevel, load.logSize = 1, uint32(len(logBuf))
		load.logBuf = uint64(uintptr(unsafe.Pointer(&logBuf[0])))
	}
	// The verifier gives up with EAGAIN when a signal arrives while it
	// works (Go preempts goroutines with SIGURG): try again, as cilium/ebpf does.
	var fd uintptr
	var errno unix.Errno
	for try := 0; try < 10; try++ {
		fd, _, errno = unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&load)), unsafe.Sizeof(load))
		if errno != unix.EAGAIN && errno != unix.EINTR {
			break
		}
	}
	runtime.KeepAlive(prog)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	if errno != 0 {
		return 0, errno
	}
	return fd, nil
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
