package testkit

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInProcRegistry(t *testing.T) {
	host := InProcRegistry(t)
	assert.True(t, strings.HasPrefix(host, "127.0.0.1:"), host)
	resp, err := http.Get("http://" + host + "/v2/")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "registry/2.0", resp.Header.Get("Docker-Distribution-API-Version"))
	resp2, err := http.Get("http://" + host + "/v2/nothing/manifests/latest")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp2.StatusCode, string(body))
}
