package testkit

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// InProcRegistry serves go-containerregistry's in-memory registry (the /v2/
// API, no authentication) on 127.0.0.1 over plain HTTP for the test's
// lifetime and returns its host:port. Pure tests use it: it needs no root,
// no binary and no disk. Its log is discarded: tests count requests with a
// handler of their own if they need to.
func InProcRegistry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
