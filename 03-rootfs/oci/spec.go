package oci

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"minibox/01-namespaces/namespaces"
	"minibox/02-cgroups/cgroups"
	"minibox/03-rootfs/rootfs"
)

// DefaultSpec is the config.json that `spec` writes, like `runc spec`: a
// shell in ./rootfs on a terminal, in every namespace but the user one,
// with Docker's mounts, masked and read-only paths and capabilities.
func DefaultSpec() *specs.Spec {
	return &specs.Spec{
		Version:  specs.Version,
		Hostname: "minibox",
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			Terminal:        true,
			User:            specs.User{UID: 0, GID: 0},
			Args:            []string{"sh"},
			Env:             []string{"PATH=" + namespaces.DefaultPath, "TERM=xterm"},
			Cwd:             "/",
			Capabilities:    rootfs.CapabilitiesOf(rootfs.DefaultCapabilities()),
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Mounts: append(rootfs.DefaultMounts(), specs.Mount{
			Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
			Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
		}),
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			Resources:     &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{cgroups.DenyAllDevices()}},
			MaskedPaths:   rootfs.DefaultMaskedPaths(),
			ReadonlyPaths: rootfs.DefaultReadonlyPaths(),
		},
	}
}
