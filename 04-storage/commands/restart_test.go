package commands

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
)

func TestRestartFlag(t *testing.T) {
	for in, want := range map[string]engine.RestartPolicy{
		"":               {},
		"no":             {Name: "no"},
		"always":         {Name: "always"},
		"unless-stopped": {Name: "unless-stopped"},
		"on-failure":     {Name: "on-failure"},
		"on-failure:3":   {Name: "on-failure", MaximumRetryCount: 3},
		"always:":        {Name: "always"},
		"always:2":       {Name: "always", MaximumRetryCount: 2}, // the engine refuses it
		"bogus":          {Name: "bogus"},                        // the engine refuses it
	} {
		p, err := restartPolicy(in, false)
		require.NoError(t, err, in)
		assert.Equal(t, want, p, in)
	}
	for in, msg := range map[string]string{
		":3":           "invalid restart policy format: no policy provided before colon",
		"on-failure:x": "invalid restart policy format: maximum retry count must be an integer",
	} {
		_, err := restartPolicy(in, false)
		assert.EqualError(t, err, msg, in)
	}
	_, err := restartPolicy("always", true)
	assert.EqualError(t, err, "conflicting options: cannot specify both --restart and --rm")
	_, err = restartPolicy("no", true)
	assert.NoError(t, err, "no with --rm")
}
