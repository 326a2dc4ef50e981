package engine

import (
	"debug/elf"
	"fmt"
	"maps"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"minibox/01-namespaces/namespaces"
)

// initPath is where `--init` puts our init inside a container whose
// runtime is not ours (Docker puts tini at /sbin/docker-init).
const initPath = "/sbin/" + namespaces.InitProgram

// addInit makes `--init` work under any OCI runtime. Our own runtime reads
// the spec's init annotation and runs its init as PID 1 itself; runc and
// crun know nothing of it, so, as Docker does with docker-init, the engine
// bind-mounts this very binary read-only into the container and makes it
// the process: `/sbin/minibox-tini -- CMD...`.
func (e *Engine) addInit(spec *specs.Spec, rt Runtime) error {
	if spec.Annotations[namespaces.InitAnnotation] != "true" || rt.Path == e.opts.Self {
		return nil
	}
	if err := staticBinary(e.opts.Self); err != nil {
		return fmt.Errorf("--init with the runtime %s: %w", rt.Name, err)
	}
	spec.Annotations = maps.Clone(spec.Annotations)
	delete(spec.Annotations, namespaces.InitAnnotation)
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: initPath, Type: "bind", Source: e.opts.Self, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	p := *spec.Process
	p.Args = append([]string{initPath, "--"}, p.Args...)
	spec.Process = &p
	return nil
}

// staticBinary refuses a dynamically linked program: inside the container
// its loader and libraries are not there (a busybox image has no libc).
func staticBinary(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	if slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		return fmt.Errorf("%s is dynamically linked and cannot run inside the container as its init; build it with CGO_ENABLED=0 (as `make build` does)", path)
	}
	return nil
}
