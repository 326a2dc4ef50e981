package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ms = time.Millisecond

// Every policy after one short run (no delay before it): who restarts,
// and the first delay is 100 ms whatever the answer (Docker's restart
// manager counts the delay before it asks the policy).
func TestDecideRestartPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy   RestartPolicy
		exit     int
		count    int
		stopped  bool
		restart  bool
		delay    time.Duration
		scenario string
	}{
		{RestartPolicy{}, 1, 0, false, false, 0, "no policy"},
		{RestartPolicy{Name: "no"}, 1, 0, false, false, 0, "no"},
		{RestartPolicy{Name: "always"}, 0, 0, false, true, 100 * ms, "always after exit 0"},
		{RestartPolicy{Name: "always"}, 3, 7, false, true, 100 * ms, "always after a failure"},
		{RestartPolicy{Name: "always"}, 137, 0, true, true, 100 * ms, "always ignores the manual stop (stop cancels the run, boot restarts it)"},
		{RestartPolicy{Name: "unless-stopped"}, 0, 0, false, true, 100 * ms, "unless-stopped after exit 0"},
		{RestartPolicy{Name: "unless-stopped"}, 143, 0, true, false, 100 * ms, "unless-stopped stopped by hand"},
		{RestartPolicy{Name: "on-failure"}, 0, 0, false, false, 100 * ms, "on-failure after exit 0"},
		{RestartPolicy{Name: "on-failure"}, 1, 0, false, true, 100 * ms, "on-failure after exit 1"},
		{RestartPolicy{Name: "on-failure"}, 1, 1000, false, true, 100 * ms, "on-failure without a count has no limit"},
		{RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, 3, 0, false, true, 100 * ms, "on-failure:2 first restart"},
		{RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, 3, 1, false, true, 100 * ms, "on-failure:2 second restart"},
		{RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, 3, 2, false, false, 100 * ms, "on-failure:2 after two restarts"},
		{RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, 0, 0, false, false, 100 * ms, "on-failure:2 after exit 0"},
		{RestartPolicy{Name: "on-failure"}, 255, 0, true, true, 100 * ms, "on-failure ignores the manual stop (as Docker's boot does)"},
	} {
		d := DecideRestart(tc.policy, tc.exit, tc.count, tc.stopped, time.Second, 0)
		assert.Equal(t, Decision{Restart: tc.restart, Delay: tc.delay}, d, tc.scenario)
	}
}

// The delay doubles from 100 ms with each restart of a crash loop and
// stays at one minute; a run of 10 s or more starts it again at 100 ms.
func TestDecideRestartBackoff(t *testing.T) {
	always := RestartPolicy{Name: "always"}
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms,
		12800 * ms, 25600 * ms, 51200 * ms, time.Minute, time.Minute, time.Minute}
	var last time.Duration
	for i, w := range want {
		d := DecideRestart(always, 1, i, false, 50*ms, last)
		require.True(t, d.Restart, "restart %d", i+1)
		assert.Equal(t, w, d.Delay, "restart %d", i+1)
		last = d.Delay
	}
	assert.Equal(t, 100*ms, DecideRestart(always, 1, 20, false, 10*time.Second, time.Minute).Delay, "a run of 10 s resets the delay")
	assert.Equal(t, 100*ms, DecideRestart(always, 1, 20, false, time.Hour, 3200*ms).Delay, "a long run resets the delay")
	assert.Equal(t, time.Minute, DecideRestart(always, 1, 20, false, 9999*ms, time.Minute).Delay, "9.999 s is not 10")
	assert.Equal(t, 800*ms, DecideRestart(always, 1, 3, false, 9*time.Second, 400*ms).Delay)
	// The delay grows while the answer is no, as Docker's does.
	onFailure := RestartPolicy{Name: "on-failure"}
	assert.Equal(t, Decision{Delay: 400 * ms}, DecideRestart(onFailure, 0, 2, false, ms, 200*ms))
	assert.Equal(t, Decision{}, DecideRestart(RestartPolicy{Name: "no"}, 1, 0, false, ms, 200*ms), "no: no delay either")
}

// on-failure:N runs the command N+1 times in a crash loop: the monitor
// passes the count of restarts so far.
func TestDecideRestartOnFailureCount(t *testing.T) {
	for _, max := range []int{1, 2, 5} {
		p := RestartPolicy{Name: "on-failure", MaximumRetryCount: max}
		count, runs := 0, 1
		var last time.Duration
		for {
			d := DecideRestart(p, 3, count, false, ms, last)
			if !d.Restart {
				break
			}
			count++
			runs++
			last = d.Delay
			require.LessOrEqual(t, runs, 100, "on-failure:%d never stops", max)
		}
		assert.Equal(t, max, count, "on-failure:%d restarts", max)
		assert.Equal(t, max+1, runs, "on-failure:%d runs", max)
	}
}

func TestValidateRestartPolicy(t *testing.T) {
	for _, ok := range []RestartPolicy{{}, {Name: "no"}, {Name: "always"}, {Name: "unless-stopped"}, {Name: "on-failure"}, {Name: "on-failure", MaximumRetryCount: 3}, {Name: "", MaximumRetryCount: 2}} {
		assert.NoError(t, ValidateRestartPolicy(ok), fmt.Sprint(ok))
	}
	for _, tc := range []struct {
		p    RestartPolicy
		want string
	}{
		{RestartPolicy{Name: "always", MaximumRetryCount: 3}, "invalid restart policy: maximum retry count can only be used with 'on-failure'"},
		{RestartPolicy{Name: "no", MaximumRetryCount: -1}, "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative"},
		{RestartPolicy{Name: "on-failure", MaximumRetryCount: -2}, "invalid restart policy: maximum retry count cannot be negative"},
		{RestartPolicy{Name: "sometimes"}, "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"},
	} {
		assert.EqualError(t, ValidateRestartPolicy(tc.p), tc.want)
	}
	assert.EqualError(t, validateHostRestart(HostConfig{AutoRemove: true, RestartPolicy: RestartPolicy{Name: "always"}}), "can't create 'AutoRemove' container with restart policy")
	assert.NoError(t, validateHostRestart(HostConfig{AutoRemove: true, RestartPolicy: RestartPolicy{Name: "no"}}))
}

func TestCancelsRestart(t *testing.T) {
	plain := &Container{}
	usr1 := &Container{Config: Config{StopSignal: "SIGUSR1"}}
	assert.True(t, cancelsRestart(plain, 15))
	assert.True(t, cancelsRestart(plain, 1), "without a stop signal of its own, any kill")
	assert.True(t, cancelsRestart(usr1, 9), "SIGKILL always")
	assert.True(t, cancelsRestart(usr1, 10), "its stop signal")
	assert.False(t, cancelsRestart(usr1, 15), "another signal")
}
