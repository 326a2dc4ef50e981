package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const user, pass = "student", "s3cret:with:colons"

// basicAuth is a registry behind htpasswd-style Basic authentication, as
// Docker's registry:2 with auth.htpasswd answers.
func basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="Registry Realm"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenAuth is a registry with a token server (Docker Hub's scheme): /v2/
// wants a Bearer token, which /token gives for good Basic credentials.
type tokenAuth struct {
	next  http.Handler
	realm string
	mu    sync.Mutex
	asked []string // the scope parameter of each token request
}

func (a *tokenAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		a.mu.Lock()
		a.asked = append(a.asked, strings.Join(r.URL.Query()["scope"], " "))
		a.mu.Unlock()
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"details":"incorrect username or password"}`)
			return
		}
		fmt.Fprint(w, `{"token":"good-token","expires_in":300}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer good-token" {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="test"`, a.realm))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`)
		return
	}
	a.next.ServeHTTP(w, r)
}

func creds(a Auth) func(string) (Auth, error) {
	return func(string) (Auth, error) { return a, nil }
}

func TestLoginBasicTLS(t *testing.T) {
	ca := newCA(t)
	srv := ca.tlsServer(t, basicAuth(newGCR()))
	host := strings.TrimPrefix(srv.URL, "https://")
	certs := ca.certsDir(t, host)
	ctx := context.Background()

	err := New(Options{CertsDir: certs}).Login(ctx, host, Auth{Username: user, Password: "wrong"})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrUnauthorized))
	assert.Equal(t, `Get "https://`+host+`/v2/": unauthorized: incorrect username or password`, err.Error())

	require.NoError(t, New(Options{CertsDir: certs}).Login(ctx, host, Auth{Username: user, Password: pass}))

	c := New(Options{CertsDir: certs, Auth: creds(Auth{Username: user, Password: pass})})
	pushImage(t, c, host+"/app", "v1")
	_, _, err = c.Resolve(ctx, host+"/app", "v1")
	require.NoError(t, err)

	_, _, err = New(Options{CertsDir: certs}).Resolve(ctx, host+"/app", "v1")
	require.Error(t, err)
	assert.True(t, IsDenied(err), "%v", err)
}

func TestLoginTokenTLS(t *testing.T) {
	ca := newCA(t)
	ta := &tokenAuth{next: newGCR()}
	srv := ca.tlsServer(t, ta)
	ta.realm = srv.URL + "/token"
	host := strings.TrimPrefix(srv.URL, "https://")
	certs := ca.certsDir(t, host)
	ctx := context.Background()

	err := New(Options{CertsDir: certs}).Login(ctx, host, Auth{Username: user, Password: "wrong"})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrUnauthorized), "%v", err)
	assert.Contains(t, err.Error(), "unauthorized: incorrect username or password")

	require.NoError(t, New(Options{CertsDir: certs}).Login(ctx, host, Auth{Username: user, Password: pass}))

	c := New(Options{CertsDir: certs, Auth: creds(Auth{Username: user, Password: pass})})
	pushImage(t, c, host+"/team/app", "v1")
	_, _, err = c.Resolve(ctx, host+"/team/app", "v1")
	require.NoError(t, err)
	ta.mu.Lock()
	asked := strings.Join(ta.asked, "\n")
	ta.mu.Unlock()
	assert.Contains(t, asked, "repository:team/app:push,pull")
	assert.Contains(t, asked, "repository:team/app:pull")

	// Stored credentials that the token server refuses read as Docker's.
	_, _, err = New(Options{CertsDir: certs, Auth: creds(Auth{Username: user, Password: "old"})}).Resolve(ctx, host+"/team/app", "v1")
	assert.True(t, errors.Is(err, ErrUnauthorized), "%v", err)
}

// TestDockerHubWiring: docker.io names go to registry-1.docker.io with the
// credentials of config.json's "https://index.docker.io/v1/" and the
// token dance. The "Hub" here is a local TLS server that the dialer
// reaches under Docker Hub's name (no test reaches the real one).
func TestDockerHubWiring(t *testing.T) {
	ca := newCA(t)
	ta := &tokenAuth{next: newGCR()}
	srv := ca.tlsServer(t, ta)
	addr := strings.TrimPrefix(srv.URL, "https://")
	// The realm is on the same (fake) host, reached at port 443.
	ta.realm = "https://" + HubHost + "/token"
	var asked []string
	c := New(Options{CertsDir: ca.certsDir(t, HubHost), Auth: func(key string) (Auth, error) {
		asked = append(asked, key)
		return Auth{Username: user, Password: pass}, nil
	}})
	c.dial = dialTo(addr)
	pushImage(t, c, "docker.io/student/app", "latest")
	desc, _, err := c.Resolve(context.Background(), "docker.io/student/app", "latest")
	require.NoError(t, err)
	assert.NotEmpty(t, desc.Digest)
	assert.Contains(t, asked, HubAuthKey)
	assert.NotContains(t, asked, "docker.io")
	ta.mu.Lock()
	tokenScopes := strings.Join(ta.asked, " ")
	ta.mu.Unlock()
	assert.Contains(t, tokenScopes, "repository:student/app:pull")

	// A one-word name is in library/.
	_, _, err = c.Resolve(context.Background(), "docker.io/busybox", "latest")
	assert.True(t, IsNotFound(err), "%v", err)
}
