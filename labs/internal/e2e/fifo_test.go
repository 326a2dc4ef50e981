package e2e

import "syscall"

// syscallMkfifo makes a FIFO at p.
func syscallMkfifo(p string) error { return syscall.Mkfifo(p, 0o644) }
