package commands

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"minibox/04-storage/engine"
)

// healthFlags are run's and create's --health-* flags and
// --no-healthcheck (lesson 07), as Docker's CLI reads them: a command for
// /bin/sh -c and the timings; what is left zero comes from the image's
// HEALTHCHECK when the engine creates the container.
type healthFlags struct {
	cmd                                      string
	interval, timeout, startPeriod, startInt time.Duration
	retries                                  int
	none                                     bool
}

func (f *healthFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.cmd, "health-cmd", "", "command to run to check health")
	fs.DurationVar(&f.interval, "health-interval", 0, "time between running the check (ms|s|m|h) (default 0s)")
	fs.IntVar(&f.retries, "health-retries", 0, "consecutive failures needed to report unhealthy")
	fs.DurationVar(&f.timeout, "health-timeout", 0, "maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fs.DurationVar(&f.startPeriod, "health-start-period", 0, "start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fs.DurationVar(&f.startInt, "health-start-interval", 0, "time between running the check during the start period (ms|s|m|h) (default 0s)")
	fs.BoolVar(&f.none, "no-healthcheck", false, "disable any container-specified HEALTHCHECK")
}

// config is the container's own healthcheck: nil without flags (the
// image's, if any, applies), {Test: ["NONE"]} with --no-healthcheck.
// The messages are Docker's.
func (f *healthFlags) config() (*engine.HealthConfig, error) {
	set := f.cmd != "" || f.interval != 0 || f.timeout != 0 || f.startPeriod != 0 || f.retries != 0 || f.startInt != 0
	if f.none {
		if set {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &engine.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !set {
		return nil, nil
	}
	for _, d := range []struct {
		flag string
		neg  bool
	}{{"--health-interval", f.interval < 0}, {"--health-timeout", f.timeout < 0}, {"--health-retries", f.retries < 0},
		{"--health-start-period", f.startPeriod < 0}, {"--health-start-interval", f.startInt < 0}} {
		if d.neg {
			return nil, errors.New(d.flag + " cannot be negative")
		}
	}
	hc := &engine.HealthConfig{Interval: f.interval, Timeout: f.timeout, StartPeriod: f.startPeriod, StartInterval: f.startInt, Retries: f.retries}
	if f.cmd != "" {
		hc.Test = []string{"CMD-SHELL", f.cmd}
	}
	return hc, nil
}

// healthStatus is what ps adds to a running container's "Up ...":
// " (healthy)", " (health: starting)", " (unhealthy)"; nothing without a
// healthcheck.
func healthStatus(h *engine.Health) string {
	if h == nil {
		return ""
	}
	return " (" + engine.HealthString(h) + ")"
}

// healthOf is the container's health as `ps --filter health=` matches it:
// none without a check (or before its first start).
func healthOf(h *engine.Health) string {
	if h == nil {
		return engine.HealthNone
	}
	if h.Status == "" {
		return engine.HealthUnhealthy
	}
	return h.Status
}

// healthFilter checks a --filter health=VALUE as Docker's daemon does.
func healthFilter(key, value string) error {
	if key != "health" {
		return nil
	}
	switch value {
	case engine.HealthNone, engine.HealthStarting, engine.HealthHealthy, engine.HealthUnhealthy:
		return nil
	}
	return fmt.Errorf("invalid filter 'health=%s': invalid value for health (%s): must be one of none, starting, healthy, unhealthy", value, value)
}
