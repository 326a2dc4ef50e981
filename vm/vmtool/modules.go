package main

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// moduleOrder resolves module names (as in vm/modules.txt: "overlay",
// "nf_tables") to the files busybox insmod must load, in load order, from
// the kernel's modules.dep. Each line of modules.dep is
//
//	kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko
//
// listing every module the first one needs, those needed last first (the
// way modprobe reads it). Soft dependencies are not in modules.dep (such as
// crc32c_generic before libcrc32c): list them in modules.txt by hand, in
// front. Built-in modules (modules.builtin) are skipped; a name that is
// neither is an error.
func moduleOrder(dep, builtin io.Reader, names []string) ([]string, error) {
	deps := map[string][]string{} // module name -> [its file, then its dependencies' files]
	s := bufio.NewScanner(dep)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		file, rest, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		deps[moduleName(file)] = append([]string{file}, strings.Fields(rest)...)
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	isBuiltin := map[string]bool{}
	if builtin != nil {
		b := bufio.NewScanner(builtin)
		for b.Scan() {
			if f := strings.TrimSpace(b.Text()); f != "" {
				isBuiltin[moduleName(f)] = true
			}
		}
		if err := b.Err(); err != nil {
			return nil, err
		}
	}
	var order []string
	seen := map[string]bool{}
	add := func(file string) {
		if !seen[file] {
			seen[file] = true
			order = append(order, file)
		}
	}
	for _, n := range names {
		n = strings.ReplaceAll(n, "-", "_")
		d, ok := deps[n]
		if !ok {
			if isBuiltin[n] {
				continue
			}
			return nil, fmt.Errorf("module %s: not in modules.dep and not built in", n)
		}
		for i := len(d) - 1; i >= 1; i-- {
			add(d[i])
		}
		add(d[0])
	}
	return order, nil
}

// moduleName turns "kernel/fs/overlayfs/overlay.ko.xz" into "overlay";
// modprobe treats - and _ in names alike.
func moduleName(file string) string {
	base := path.Base(file)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}
