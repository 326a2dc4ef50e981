package commands

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
)

// healthConfig parses the flags as run and create do.
func healthConfig(t *testing.T, args ...string) (*engine.HealthConfig, error) {
	t.Helper()
	var f healthFlags
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.add(fs)
	require.NoError(t, fs.Parse(args))
	return f.config()
}

func TestHealthFlags(t *testing.T) {
	hc, err := healthConfig(t)
	require.NoError(t, err)
	assert.Nil(t, hc, "no flags: the image's healthcheck, if any")
	hc, err = healthConfig(t, "--health-cmd", "curl -f http://localhost/ || exit 1", "--health-interval", "200ms",
		"--health-timeout", "1s", "--health-retries", "4", "--health-start-period", "2m", "--health-start-interval", "100ms")
	require.NoError(t, err)
	assert.Equal(t, &engine.HealthConfig{Test: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"},
		Interval: 200 * time.Millisecond, Timeout: time.Second, Retries: 4, StartPeriod: 2 * time.Minute,
		StartInterval: 100 * time.Millisecond}, hc)
	hc, err = healthConfig(t, "--health-retries", "5")
	require.NoError(t, err)
	assert.Equal(t, &engine.HealthConfig{Retries: 5}, hc, "a timing alone: the image's command")
	hc, err = healthConfig(t, "--no-healthcheck")
	require.NoError(t, err)
	assert.Equal(t, &engine.HealthConfig{Test: []string{"NONE"}}, hc)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--no-healthcheck", "--health-cmd", "true"}, "--no-healthcheck conflicts with --health-* options"},
		{[]string{"--no-healthcheck", "--health-start-interval", "1s"}, "--no-healthcheck conflicts with --health-* options"},
		{[]string{"--health-interval", "-1s"}, "--health-interval cannot be negative"},
		{[]string{"--health-timeout", "-1s"}, "--health-timeout cannot be negative"},
		{[]string{"--health-retries", "-1"}, "--health-retries cannot be negative"},
		{[]string{"--health-start-period", "-1s"}, "--health-start-period cannot be negative"},
		{[]string{"--health-start-interval", "-1s"}, "--health-start-interval cannot be negative"},
	} {
		_, err := healthConfig(t, tc.args...)
		assert.EqualError(t, err, tc.want, "%v", tc.args)
	}
}

func TestHealthStatusColumn(t *testing.T) {
	now := time.Now()
	up := engine.State{Status: "running", Running: true, StartedAt: now.Add(-5 * time.Second)}
	for h, want := range map[string]string{
		engine.HealthStarting: "Up 5 seconds (health: starting)", engine.HealthHealthy: "Up 5 seconds (healthy)",
		engine.HealthUnhealthy: "Up 5 seconds (unhealthy)", "": "Up 5 seconds (unhealthy)",
	} {
		st := up
		st.Health = &engine.Health{Status: h}
		assert.Equal(t, want, Status(st, now))
	}
	assert.Equal(t, "Up 5 seconds", Status(up, now))
	gone := engine.State{Status: "exited", ExitCode: 137, FinishedAt: now.Add(-time.Minute), Health: &engine.Health{Status: engine.HealthUnhealthy}}
	assert.Equal(t, "Exited (137) About a minute ago", Status(gone, now), "health only while up")
}

func TestHealthFilter(t *testing.T) {
	in := &engine.Info{Container: &engine.Container{ID: "abc"}, State: engine.State{Status: "running", Running: true}}
	check := func(f string) bool {
		fs, err := parseFilters([]string{f})
		require.NoError(t, err)
		return match(in, fs)
	}
	assert.True(t, check("health=none"))
	assert.False(t, check("health=healthy"))
	in.State.Health = &engine.Health{Status: engine.HealthHealthy}
	assert.True(t, check("health=healthy"))
	assert.False(t, check("health=none"))
	in.State.Health = &engine.Health{Status: engine.HealthStarting}
	assert.True(t, check("health=starting"))
	_, err := parseFilters([]string{"health=fine"})
	assert.EqualError(t, err, "invalid filter 'health=fine': invalid value for health (fine): must be one of none, starting, healthy, unhealthy")
}
