// Package loader reads compose files into lesson 07's model: compose-go
// (the library docker compose itself uses) finds, merges, interpolates and
// validates the YAML, and this package converts its big project into the
// small model.Project the rest of the lesson works on. It is the only
// package of the lesson that imports compose-go.
package loader

import (
	"context"
	"errors"
	"io"

	"minibox/07-compose/model"
)

// Options are compose's global flags and the environment they are read in.
type Options struct {
	WorkingDir  string    // --project-directory ("" = the first file's directory / cwd)
	Files       []string  // -f (none: found as compose does, or COMPOSE_FILE)
	ProjectName string    // -p ("" = COMPOSE_PROJECT_NAME, `name:`, the directory's name)
	EnvFiles    []string  // --env-file ("" = PROJECT_DIR/.env if it exists)
	Profiles    []string  // --profile (none: COMPOSE_PROFILES)
	Environ     []string  // os.Environ() normally; nil = an empty environment
	Stderr      io.Writer // warnings are written here too if set (always in Project.Warnings)
}

// Load finds and reads the project's compose files as docker compose does.
func Load(ctx context.Context, o Options) (*model.Project, error) {
	return nil, errors.New("not implemented yet")
}

// YAML is `compose config`: the resolved project as YAML.
func YAML(p *model.Project) ([]byte, error) {
	return nil, errors.New("not implemented yet")
}
