package images

import (
	"encoding/json"
	"fmt"

	"minibox/04-storage/engine"
)

// Healthcheck returns the image's HEALTHCHECK (nil when it has none): a
// field of Docker's image config that the OCI type leaves out, so it is
// read from the config as stored (config.Healthcheck, durations in
// nanoseconds). The engine merges it into a new container's healthcheck
// (engine.ImageHealthchecks).
func (s *Store) Healthcheck(img *engine.Image) (*engine.HealthConfig, error) {
	b, err := s.readBlob(img.ID)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Config struct {
			Healthcheck *engine.HealthConfig
		} `json:"config"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("image %s: its config: %w", img.ID, err)
	}
	return cfg.Config.Healthcheck, nil
}
