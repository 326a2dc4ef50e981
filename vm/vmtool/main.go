// Command vmtool is the host side of the lab's VM checks (see vm/README.md).
// vm/test.sh and vm/validate.sh call it; students never need to.
//
//	vmtool initramfs -o FILE DIR         pack DIR as a newc cpio initramfs, all root-owned, with /dev/console
//	vmtool modules -dir /lib/modules/V NAME...   the module files to insmod, dependencies first
//	vmtool report -log FILE -qemu-exit N [-expect PKG,...] [-v]   judge a VM test run from its serial log
//	vmtool devcontainer FILE             strict JSONC parse of devcontainer.json and the keys the lab needs
//	vmtool static FILE...                fail unless every FILE is a statically linked ELF executable
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: vmtool initramfs|modules|report|devcontainer ...")
		return 2
	}
	fs := flag.NewFlagSet("vmtool "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fail := func(err error) int {
		fmt.Fprintf(stderr, "vmtool %s: %v\n", args[0], err)
		return 1
	}
	switch args[0] {
	case "initramfs":
		out := fs.String("o", "", "the archive to write")
		if err := fs.Parse(args[1:]); err != nil || *out == "" || fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: vmtool initramfs -o FILE DIR")
			return 2
		}
		f, err := os.Create(*out)
		if err != nil {
			return fail(err)
		}
		if err := writeInitramfs(f, fs.Arg(0)); err != nil {
			f.Close()
			return fail(err)
		}
		if err := f.Close(); err != nil {
			return fail(err)
		}
		return 0

	case "modules":
		dir := fs.String("dir", "", "the kernel's module directory, /lib/modules/VERSION")
		if err := fs.Parse(args[1:]); err != nil || *dir == "" {
			fmt.Fprintln(stderr, "usage: vmtool modules -dir /lib/modules/VERSION NAME...")
			return 2
		}
		dep, err := os.Open(filepath.Join(*dir, "modules.dep"))
		if err != nil {
			return fail(err)
		}
		defer dep.Close()
		var builtin io.Reader
		if b, err := os.Open(filepath.Join(*dir, "modules.builtin")); err == nil {
			defer b.Close()
			builtin = b
		}
		order, err := moduleOrder(dep, builtin, fs.Args())
		if err != nil {
			return fail(err)
		}
		for _, o := range order {
			fmt.Fprintln(stdout, o)
		}
		return 0

	case "report":
		logFile := fs.String("log", "", "the guest's serial console log")
		qemuExit := fs.Int("qemu-exit", -1, "the exit status of qemu (under timeout(1))")
		expect := fs.String("expect", "", "comma-separated packages that must have run")
		verbose := fs.Bool("v", false, "print the output of every package, not only of failed ones")
		if err := fs.Parse(args[1:]); err != nil || *logFile == "" {
			fmt.Fprintln(stderr, "usage: vmtool report -log FILE -qemu-exit N [-expect PKG,...] [-v]")
			return 2
		}
		raw, err := os.ReadFile(*logFile)
		if err != nil {
			return fail(err)
		}
		var want []string
		for _, p := range strings.Split(*expect, ",") {
			if p = strings.TrimSpace(p); p != "" {
				want = append(want, p)
			}
		}
		l := parseLog(string(raw))
		if !writeReport(stdout, l, judge(l, *qemuExit, want), *verbose) {
			return 1
		}
		return 0

	case "devcontainer":
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: vmtool devcontainer FILE")
			return 2
		}
		probs := checkDevcontainer(fs.Arg(0))
		for _, p := range probs {
			fmt.Fprintln(stderr, "vmtool devcontainer:", p)
		}
		if len(probs) > 0 {
			return 1
		}
		fmt.Fprintf(stdout, "%s: strict JSONC parse and required keys: ok\n", fs.Arg(0))
		return 0

	case "static":
		if len(args) < 2 {
			fmt.Fprintln(stderr, "usage: vmtool static FILE...")
			return 2
		}
		code := 0
		for _, f := range args[1:] {
			if err := checkStatic(f); err != nil {
				fmt.Fprintf(stderr, "vmtool static: %v\n", err)
				code = 1
			}
		}
		return code
	}
	fmt.Fprintf(stderr, "vmtool: unknown command %q\n", args[0])
	return 2
}
