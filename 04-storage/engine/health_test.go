package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// probeAt is a result of a probe that began at off after the start.
func probeAt(started time.Time, off time.Duration, code int) HealthResult {
	return HealthResult{Start: started.Add(off), End: started.Add(off + time.Millisecond), ExitCode: code, Output: fmt.Sprint(code)}
}

// feed runs NextHealth over the exit codes of probes one second apart
// (the first at 1s) and returns the status and streak after each.
func feed(hc HealthConfig, codes ...int) (steps []string, last Health) {
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := Health{Status: HealthStarting}
	for i, c := range codes {
		h = NextHealth(h, hc, started, probeAt(started, time.Duration(i+1)*time.Second, c))
		steps = append(steps, fmt.Sprintf("%s/%d", h.Status, h.FailingStreak))
	}
	return steps, h
}

// Docker's rules (moby daemon/health.go, handleProbeResult) as a table:
// each row is a run of probe exit codes and the status/streak after each.
func TestNextHealth(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hc    HealthConfig
		codes []int
		want  []string
	}{
		{"a success is healthy at once", HealthConfig{}, []int{0}, []string{"healthy/0"}},
		{"3 failures by default", HealthConfig{}, []int{1, 1, 1, 1},
			[]string{"starting/1", "starting/2", "unhealthy/3", "unhealthy/4"}},
		{"retries 1: the first failure", HealthConfig{Retries: 1}, []int{1}, []string{"unhealthy/1"}},
		{"retries 2", HealthConfig{Retries: 2}, []int{1, 1}, []string{"starting/1", "unhealthy/2"}},
		{"any non-zero code fails, -1 and 2 too", HealthConfig{Retries: 3}, []int{2, -1, 137}, []string{"starting/1", "starting/2", "unhealthy/3"}},
		{"a success resets the streak", HealthConfig{}, []int{1, 1, 0, 1, 1, 1},
			[]string{"starting/1", "starting/2", "healthy/0", "healthy/1", "healthy/2", "unhealthy/3"}},
		{"healthy stays healthy until retries", HealthConfig{Retries: 2}, []int{0, 1, 1},
			[]string{"healthy/0", "healthy/1", "unhealthy/2"}},
		{"recovery from unhealthy", HealthConfig{Retries: 1}, []int{1, 0, 1},
			[]string{"unhealthy/1", "healthy/0", "unhealthy/1"}},
		// Probes at 1s, 2s, 3s...: those that begin before 2.5s do not count.
		{"start period: failures do not count", HealthConfig{Retries: 1, StartPeriod: 2500 * time.Millisecond}, []int{1, 1, 1},
			[]string{"starting/0", "starting/0", "unhealthy/1"}},
		{"start period: a success ends it", HealthConfig{Retries: 1, StartPeriod: time.Minute}, []int{1, 0, 1},
			[]string{"starting/0", "healthy/0", "unhealthy/1"}},
		{"start period: never unhealthy within it", HealthConfig{Retries: 1, StartPeriod: time.Minute}, []int{1, 1, 1, 1, 1, 1},
			[]string{"starting/0", "starting/0", "starting/0", "starting/0", "starting/0", "starting/0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps, _ := feed(tc.hc, tc.codes...)
			assert.Equal(t, tc.want, steps)
		})
	}
}

// The log keeps the last five results, oldest first, and NextHealth does
// not change the health it was given (the caller's log stays whole).
func TestNextHealthLog(t *testing.T) {
	started := time.Now()
	h := Health{Status: HealthStarting}
	var olds []Health
	for i := range 7 {
		olds = append(olds, h)
		h = NextHealth(h, HealthConfig{}, started, probeAt(started, time.Duration(i)*time.Second, i))
		require.Len(t, h.Log, min(i+1, 5))
	}
	var codes []int
	for _, r := range h.Log {
		codes = append(codes, r.ExitCode)
	}
	assert.Equal(t, []int{2, 3, 4, 5, 6}, codes, "the last five, oldest first")
	assert.Equal(t, "6", h.Log[4].Output)
	assert.Equal(t, started.Add(6*time.Second), h.Log[4].Start)
	for i, o := range olds {
		assert.Len(t, o.Log, min(i, 5), "the health before probe %d was changed", i)
	}
	// Appending to the results of two healths made from the same one
	// must not write into each other's log.
	a := NextHealth(olds[6], HealthConfig{}, started, probeAt(started, 0, 10))
	b := NextHealth(olds[6], HealthConfig{}, started, probeAt(started, 0, 20))
	assert.Equal(t, 10, a.Log[4].ExitCode)
	assert.Equal(t, 20, b.Log[4].ExitCode)
	// A health without a status (never reset) counts as starting.
	z := NextHealth(Health{}, HealthConfig{}, started, probeAt(started, time.Second, 1))
	assert.Equal(t, "starting/1", fmt.Sprintf("%s/%d", z.Status, z.FailingStreak))
}

func TestMergeHealthcheck(t *testing.T) {
	image := &HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Second, Timeout: 2 * time.Second,
		StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5}
	assert.Nil(t, MergeHealthcheck(nil, nil))
	assert.Equal(t, image, MergeHealthcheck(nil, image))
	assert.NotSame(t, image, MergeHealthcheck(nil, image), "a copy: the container's own")
	user := &HealthConfig{Test: []string{"CMD-SHELL", "x"}}
	assert.Same(t, user, MergeHealthcheck(user, nil))
	// Field by field: what the flags leave zero is the image's.
	assert.Equal(t, &HealthConfig{Test: []string{"CMD", "true"}, Interval: 10 * time.Second, Timeout: 2 * time.Second,
		StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 1},
		MergeHealthcheck(&HealthConfig{Interval: 10 * time.Second, Retries: 1}, image))
	assert.Equal(t, []string{"CMD-SHELL", "x"}, MergeHealthcheck(user, image).Test)
	// --no-healthcheck: NONE wins, and nothing runs.
	none := MergeHealthcheck(&HealthConfig{Test: []string{"NONE"}}, image)
	assert.Equal(t, []string{"NONE"}, none.Test)
	assert.False(t, HasProbe(none))
	assert.True(t, HasProbe(image))
	assert.False(t, HasProbe(&HealthConfig{Interval: time.Second}), "timings alone run nothing")
	assert.False(t, HasProbe(nil))
}

func TestValidateHealthcheck(t *testing.T) {
	for _, tc := range []struct {
		hc   *HealthConfig
		want string
	}{
		{nil, ""},
		{&HealthConfig{Test: []string{"NONE"}}, ""},
		{&HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: time.Millisecond, Timeout: time.Hour, Retries: 0}, ""},
		{&HealthConfig{Interval: time.Microsecond}, "Interval in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{Timeout: time.Nanosecond}, "Timeout in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{StartPeriod: 999 * time.Microsecond}, "StartPeriod in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{StartInterval: -time.Second}, "StartInterval in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{Retries: -1}, "Retries in Healthcheck cannot be negative"},
		{&HealthConfig{Test: []string{"CMD"}}, "healthcheck CMD has no command"},
	} {
		err := ValidateHealthcheck(tc.hc)
		if tc.want == "" {
			assert.NoError(t, err, "%+v", tc.hc)
		} else {
			assert.EqualError(t, err, tc.want)
		}
	}
}

func TestProbeArgs(t *testing.T) {
	assert.Equal(t, []string{"/bin/sh", "-c", "curl -f localhost || exit 1"}, probeArgs(&HealthConfig{Test: []string{"CMD-SHELL", "curl -f localhost || exit 1"}}))
	assert.Equal(t, []string{"wget", "-q", "x"}, probeArgs(&HealthConfig{Test: []string{"CMD", "wget", "-q", "x"}}))
}

func TestHealthString(t *testing.T) {
	assert.Equal(t, "health: starting", HealthString(&Health{Status: HealthStarting}))
	assert.Equal(t, "healthy", HealthString(&Health{Status: HealthHealthy}))
	assert.Equal(t, "unhealthy", HealthString(&Health{Status: HealthUnhealthy}))
	assert.Equal(t, "unhealthy", HealthString(&Health{}), "Docker's reading of no status")
}

// The output is cut at 4096 bytes with "..." after, however it arrives.
func TestLimitedBuffer(t *testing.T) {
	var b limitedBuffer
	n, err := b.Write([]byte(strings.Repeat("a", 4000)))
	require.NoError(t, err)
	assert.Equal(t, 4000, n)
	assert.Equal(t, strings.Repeat("a", 4000), b.String())
	n, _ = b.Write([]byte(strings.Repeat("b", 200)))
	assert.Equal(t, 200, n, "a writer that keeps less still takes everything")
	b.Write([]byte("c"))
	assert.Equal(t, strings.Repeat("a", 4000)+strings.Repeat("b", 96)+"...", b.String())
	var exact limitedBuffer
	exact.Write([]byte(strings.Repeat("x", 4096)))
	assert.Equal(t, strings.Repeat("x", 4096), exact.String())
}
