package dockerfile

import (
	"slices"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultShell is the shell of a shell-form RUN, CMD or ENTRYPOINT on Linux
// until a SHELL instruction changes it.
var DefaultShell = []string{"/bin/sh", "-c"}

// Command is the argv an instruction's command line stands for: the exec
// form (a JSON array) as written, the shell form as shell + [its text], so
// `RUN echo $HOME` runs ["/bin/sh", "-c", "echo $HOME"] and the shell, not
// the builder, expands $HOME. An empty shell means DefaultShell; a step
// without arguments (`CMD []`) gives an empty, non-nil slice.
func Command(shell []string, s Step) []string {
	if len(s.Args) == 0 {
		return []string{}
	}
	if s.JSON {
		return slices.Clone(s.Args)
	}
	if len(shell) == 0 {
		shell = DefaultShell
	}
	return append(slices.Clone(shell), s.Args...)
}

// ProcessArgs composes the image's Entrypoint and Cmd after a stage: ep and
// cmd are what this stage's ENTRYPOINT and CMD set (already through
// Command), epSet and cmdSet say whether the stage had them (cmdSet: a CMD
// with at least one argument, as Docker's builder counts it), and base is
// the config of the stage's FROM image.
//
// The container then runs entrypoint + command, which gives Docker's table
// (https://docs.docker.com/reference/dockerfile/#understand-how-cmd-and-entrypoint-interact):
// CMD alone is the program; an exec-form ENTRYPOINT takes CMD as its
// arguments; a shell-form ENTRYPOINT is `/bin/sh -c 'text'`, and the shell
// ignores the arguments after its script, so CMD has no effect. And: an
// ENTRYPOINT set in this stage resets a CMD inherited from the base image,
// because the old CMD was written for the old ENTRYPOINT.
func ProcessArgs(ep, cmd []string, epSet, cmdSet bool, base imagespec.ImageConfig) (entrypoint, command []string) {
	// LAB 06.2 BEGIN: Docker's ENTRYPOINT/CMD rules: inherit from base, a new ENTRYPOINT drops an inherited CMD
	entrypoint = slices.Clone(base.Entrypoint)
	command = slices.Clone(base.Cmd)
	if epSet {
		entrypoint = slices.Clone(ep)
		if !cmdSet {
			command = nil
		}
	}
	if cmdSet {
		command = slices.Clone(cmd)
	}
	return entrypoint, command
	// LAB 06.2 END
	// LAB 06.2 STUB: lab.WarnOnce("06.2") // this stage's ENTRYPOINT and CMD as they are: nothing inherited, nothing reset
	// LAB 06.2 STUB: _ = base
	// LAB 06.2 STUB: return ep, cmd
}

// PredefinedArgs are the build arguments Docker accepts without an ARG
// (the proxy variables, both cases) and the platform arguments BuildKit
// defines, which the classic builder also knows. A --build-arg of one of
// them never draws the "were not consumed" warning, and the proxy ones stay
// out of the history.
func PredefinedArgs() []string {
	return []string{
		"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
		"FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
		"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
		"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
	}
}

// PlatformArgs gives the values of the platform build arguments, KEY=VALUE,
// for the machine that builds and the platform built for (the same here:
// minibox builds for its own platform).
func PlatformArgs(build, target imagespec.Platform) []string {
	pl := func(p imagespec.Platform) string {
		s := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			s += "/" + p.Variant
		}
		return s
	}
	return []string{
		"TARGETPLATFORM=" + pl(target), "TARGETOS=" + target.OS, "TARGETARCH=" + target.Architecture, "TARGETVARIANT=" + target.Variant,
		"BUILDPLATFORM=" + pl(build), "BUILDOS=" + build.OS, "BUILDARCH=" + build.Architecture, "BUILDVARIANT=" + build.Variant,
	}
}
