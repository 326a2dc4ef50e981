package testkit

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// RegistryBinary is Debian's docker-registry (the CNCF distribution
// registry, 2.8): `apt-get install docker-registry`. Its package installs a
// service that listens on :5000 where the init system starts it, so tests
// never use that port: each registry gets a free one.
const RegistryBinary = "/usr/bin/docker-registry"

// RegistryOptions configure a test registry: TLS (nil: plain HTTP) serves a
// certificate of this authority for 127.0.0.1 and localhost, Users (nil:
// anonymous) turns on htpasswd authentication with these user → password
// pairs.
type RegistryOptions struct {
	TLS   *Authority
	Users map[string]string
}

// Reg is a running docker-registry of one test.
type Reg struct {
	Host string // 127.0.0.1:PORT, as an image reference names it
	URL  string // http://Host or https://Host
	Dir  string // its storage, under the test's temporary directory
	PID  int
	TLS  *Authority // nil for plain HTTP
	log  *os.File
}

// Registry starts /usr/bin/docker-registry on 127.0.0.1 with a free port,
// its storage in a temporary directory, and waits (up to 10 s) until /v2/
// answers. It is stopped by its PID when the test ends. A missing binary
// skips the test (fails it under MINIBOX_REQUIRE_ROOT=1).
func Registry(t testing.TB, opts RegistryOptions) *Reg {
	t.Helper()
	Require(t, "docker-registry (apt-get install docker-registry)", func() error { return executable(RegistryBinary) })
	dir := t.TempDir()
	port, err := freePort()
	require.NoError(t, err)
	r := &Reg{Host: fmt.Sprintf("127.0.0.1:%d", port), Dir: filepath.Join(dir, "storage"), TLS: opts.TLS}
	r.URL = "http://" + r.Host

	// The registry's YAML configuration; JSON is YAML, and quoting every
	// string with %q keeps paths with odd characters intact.
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n")
	fmt.Fprintf(&cfg, "storage:\n  filesystem:\n    rootdirectory: %q\n  delete:\n    enabled: true\n", r.Dir)
	fmt.Fprintf(&cfg, "http:\n  addr: %q\n  secret: %q\n", r.Host, randomHex())
	if opts.TLS != nil {
		certFile, keyFile := opts.TLS.Cert(t, "127.0.0.1", "localhost")
		fmt.Fprintf(&cfg, "  tls:\n    certificate: %q\n    key: %q\n", certFile, keyFile)
		r.URL = "https://" + r.Host
	}
	if opts.Users != nil {
		htpasswd := filepath.Join(dir, "htpasswd")
		require.NoError(t, writeHtpasswd(htpasswd, opts.Users))
		fmt.Fprintf(&cfg, "auth:\n  htpasswd:\n    realm: %q\n    path: %q\n", "minibox-test", htpasswd)
	}
	cfgFile := filepath.Join(dir, "config.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(cfg.String()), 0o644))

	r.log, err = os.Create(filepath.Join(dir, "registry.log"))
	require.NoError(t, err)
	cmd := exec.Command(RegistryBinary, "serve", cfgFile)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	// Its own process group: a ^C of the test run reaches the test, which
	// stops the registry itself in Cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	r.PID = cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stopProcess(t, "docker-registry", cmd.Process, exited, 10*time.Second)
		_ = r.log.Close()
	})

	client := r.Client()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(r.URL + "/v2/")
		if err == nil {
			_ = resp.Body.Close()
			// 200 when anonymous, 401 with a challenge when users are set:
			// either way the registry serves its API.
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		select {
		case <-exited:
			t.Fatalf("docker-registry exited before it served /v2/: %s", r.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not serve %s/v2/ in 10 s (last error %v): %s", r.URL, err, r.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Client is an HTTP client that trusts only the registry's test authority
// (none of the host's roots) and does not follow redirects to elsewhere.
func (r *Reg) Client() *http.Client {
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	if r.TLS != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: r.TLS.Pool(), MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// Log is what the registry wrote so far (for failure messages).
func (r *Reg) Log() string {
	b, _ := os.ReadFile(r.log.Name())
	return string(b)
}

// writeHtpasswd writes users as an htpasswd file with bcrypt hashes: the
// only kind the distribution registry accepts.
func writeHtpasswd(path string, users map[string]string) error {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, u := range names {
		if strings.ContainsAny(u, ":\n") {
			return fmt.Errorf("htpasswd user %q: a name holds no ':' or newline", u)
		}
		// The minimum cost: hashing is the registry's work on every request.
		h, err := bcrypt.GenerateFromPassword([]byte(users[u]), bcrypt.MinCost)
		if err != nil {
			return fmt.Errorf("bcrypt for %q: %w", u, err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// freePort asks the kernel for a free TCP port on 127.0.0.1 (listen on :0,
// close). Another process could take it before the server binds it, but the
// ephemeral range is large and the window short.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// executable reports an error unless path is an executable regular file.
func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// stopProcess sends SIGTERM to p and waits up to grace for exited to be
// closed (the goroutine that waits for it), then SIGKILLs it and waits.
func stopProcess(t testing.TB, what string, p *os.Process, exited <-chan struct{}, grace time.Duration) {
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("stop %s (pid %d): %v", what, p.Pid, err)
	}
	select {
	case <-exited:
		return
	case <-time.After(grace):
	}
	t.Errorf("%s (pid %d) did not stop in %s after SIGTERM: killed", what, p.Pid, grace)
	_ = p.Kill()
	<-exited
}
