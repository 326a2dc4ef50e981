package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// SkopeoBinary is Debian's skopeo (1.9): the reference client that copies
// images between registries, OCI layouts and archives without a daemon.
const SkopeoBinary = "/usr/bin/skopeo"

// Skopeo runs skopeo with args (for at most two minutes) and returns how it
// ended. It reads nothing of the host's or a user's configuration and writes
// nothing outside the test's temporary directory:
//   - its trust policy is a file of ours that accepts anything (the host's
//     /etc/containers/policy.json may be missing or stricter);
//   - registries.conf is an empty file of ours (CONTAINERS_REGISTRIES_CONF),
//     so no mirror or "insecure" entry of the host applies;
//   - HOME, XDG_* and TMPDIR point into the temporary directory, and
//     _CONTAINERS_ROOTLESS_UID makes containers/image treat us as a user,
//     so its blob-info cache goes to $XDG_DATA_HOME rather than root's
//     /var/lib/containers/cache, and no auth.json of root is read.
//
// A missing binary skips the test (fails it under MINIBOX_REQUIRE_ROOT=1).
func Skopeo(t testing.TB, args ...string) Result {
	t.Helper()
	Require(t, "skopeo (apt-get install skopeo)", func() error { return executable(SkopeoBinary) })
	dir := t.TempDir()
	for _, d := range []string{"home", "share", "config", "run", "tmp"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, d), 0o700))
	}
	policy := filepath.Join(dir, "policy.json")
	require.NoError(t, os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`+"\n"), 0o644))
	regConf := filepath.Join(dir, "registries.conf")
	require.NoError(t, os.WriteFile(regConf, nil, 0o644))

	cmd := exec.Command(SkopeoBinary, append([]string{"--policy", policy, "--tmpdir", filepath.Join(dir, "tmp")}, args...)...)
	cmd.Env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + filepath.Join(dir, "home"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "share"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"CONTAINERS_REGISTRIES_CONF=" + regConf,
		"_CONTAINERS_ROOTLESS_UID=65534",
	}
	return RunCommand(t, cmd)
}
