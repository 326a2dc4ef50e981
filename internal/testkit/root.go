package testkit

import (
	"os"
	"testing"
)

// RequireRootEnv is the variable that turns every skip of this package into
// a failure. CI and the grader set it, so that a suite which silently skipped
// its root tests can never look green.
const RequireRootEnv = "MINIBOX_REQUIRE_ROOT"

// Strict reports whether skips must be failures (MINIBOX_REQUIRE_ROOT=1).
func Strict() bool { return os.Getenv(RequireRootEnv) == "1" }

// RequireRoot skips the test when it does not run as root, or fails it when
// MINIBOX_REQUIRE_ROOT=1. Every test that touches the kernel starts with it.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	skipOrFail(t, "needs root: run the tests with sudo")
}

// Require skips (or, when strict, fails) the test when probe says a kernel
// feature is missing; what names the feature in the message.
func Require(t testing.TB, what string, probe func() error) {
	t.Helper()
	if err := probe(); err != nil {
		skipOrFail(t, "needs "+what+": "+err.Error())
	}
}

func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s (%s=1 makes this a failure instead of a skip)", why, RequireRootEnv)
	}
	t.Skip(why)
}
