package main

import (
	"debug/elf"
	"fmt"
)

// checkStatic fails unless file is an ELF executable without a program
// interpreter: the VM's initramfs has no dynamic loader and no libc, so a
// dynamically linked busybox or test binary would die with "not found".
func checkStatic(file string) error {
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (busybox: install busybox-static; Go: CGO_ENABLED=0)", file)
		}
	}
	return nil
}
