package main

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const modulesDep = `kernel/fs/overlayfs/overlay.ko:
kernel/drivers/net/veth.ko:
kernel/net/llc/llc.ko:
kernel/net/802/stp.ko: kernel/net/llc/llc.ko
kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko
kernel/crypto/crc32c_generic.ko:
kernel/lib/libcrc32c.ko:
kernel/net/netfilter/nfnetlink.ko:
kernel/net/netfilter/nf_tables.ko: kernel/net/netfilter/nfnetlink.ko kernel/lib/libcrc32c.ko
kernel/drivers/block/loop.ko.xz:
`

const modulesBuiltin = `kernel/fs/ext4/ext4.ko
kernel/net/unix/unix.ko
`

func TestModuleOrder(t *testing.T) {
	tests := []struct {
		names []string
		want  []string
	}{
		{nil, nil},
		{[]string{"overlay"}, []string{"kernel/fs/overlayfs/overlay.ko"}},
		{[]string{"bridge"}, []string{"kernel/net/llc/llc.ko", "kernel/net/802/stp.ko", "kernel/net/bridge/bridge.ko"}},
		// The order for later lessons: each file once, dependencies first.
		{strings.Fields("overlay veth llc stp bridge crc32c_generic libcrc32c nfnetlink nf_tables"), []string{
			"kernel/fs/overlayfs/overlay.ko", "kernel/drivers/net/veth.ko", "kernel/net/llc/llc.ko",
			"kernel/net/802/stp.ko", "kernel/net/bridge/bridge.ko", "kernel/crypto/crc32c_generic.ko",
			"kernel/lib/libcrc32c.ko", "kernel/net/netfilter/nfnetlink.ko", "kernel/net/netfilter/nf_tables.ko",
		}},
		{[]string{"nf-tables"}, []string{"kernel/lib/libcrc32c.ko", "kernel/net/netfilter/nfnetlink.ko", "kernel/net/netfilter/nf_tables.ko"}},
		{[]string{"loop"}, []string{"kernel/drivers/block/loop.ko.xz"}},
		{[]string{"ext4", "overlay"}, []string{"kernel/fs/overlayfs/overlay.ko"}}, // built in: nothing to load
	}
	for _, tc := range tests {
		got, err := moduleOrder(strings.NewReader(modulesDep), strings.NewReader(modulesBuiltin), tc.names)
		if err != nil {
			t.Errorf("%v: %v", tc.names, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v:\n got %v\nwant %v", tc.names, got, tc.want)
		}
	}
	if _, err := moduleOrder(strings.NewReader(modulesDep), nil, []string{"no_such_module"}); err == nil ||
		!strings.Contains(err.Error(), "no_such_module") {
		t.Errorf("an unknown module: err = %v", err)
	}
}

func TestModulesCommand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(modulesDep), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"modules", "-dir", dir, "bridge"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if want := "kernel/net/llc/llc.ko\nkernel/net/802/stp.ko\nkernel/net/bridge/bridge.ko\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if code := run([]string{"modules", "-dir", dir, "nope"}, &out, &errb); code != 1 {
		t.Errorf("an unknown module: exit %d, want 1", code)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"initramfs"}, {"report"}, {"modules"}, {"devcontainer"}, {"static"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if errb.Len() == 0 {
			t.Errorf("%v: no usage message", args)
		}
	}
}

func TestCheckStatic(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary is static when built with CGO_ENABLED=0 (as vm/test.sh
	// builds), and dynamic otherwise; either way checkStatic must agree
	// with the ELF file itself.
	f, err := elf.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	f.Close()
	if err := checkStatic(self); (err != nil) != dynamic {
		t.Errorf("checkStatic(%s) = %v; dynamic = %v", self, err, dynamic)
	}
	text := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkStatic(text); err == nil {
		t.Error("a shell script passed as a static ELF binary")
	}
	var out, errb bytes.Buffer
	if code := run([]string{"static", text}, &out, &errb); code != 1 {
		t.Errorf("vmtool static on a script: exit %d, want 1", code)
	}
}
