package loader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/errdefs"
	composeloader "github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
	"go.yaml.in/yaml/v3"

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

// versionObsolete is compose's warning for the legacy top-level `version:`
// (compose-go's loader says it through logrus, once per file and process;
// the loader says it itself, every time, so a test can see it).
const versionObsolete = "%s: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion"

// loadMu serialises loads: compose-go warns through logrus's global logger,
// which Load borrows for the duration of one load.
var loadMu sync.Mutex

// Load finds and reads the project's compose files as docker compose does
// (compose's own sequence of compose-go options, cmd/compose/compose.go),
// and converts the result to the model.
//
//   - files: -f in order, else COMPOSE_FILE (split at ':'), else compose.yaml,
//     compose.yml, docker-compose.yml, docker-compose.yaml (plus a
//     compose.override.yaml beside it) in the working directory or the
//     nearest parent that has one;
//   - the environment for ${VAR}: Environ, then .env of the project directory
//     (or --env-file) for what Environ lacks;
//   - the name: -p, COMPOSE_PROJECT_NAME, the files' `name:`, the directory's
//     base name normalised (lower case, only [a-z0-9_-]);
//   - profiles: --profile, else COMPOSE_PROFILES; a service with profiles
//     none of which is active is left out (Project.Disabled).
func Load(ctx context.Context, o Options) (*model.Project, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	logged, restore := captureLogrus()
	defer restore()

	env := slices.Clone(o.Environ)
	if !hasKey(env, "PWD") {
		// compose sets PWD for ${PWD} when the shell did not.
		if wd, err := os.Getwd(); err == nil {
			env = append(env, "PWD="+wd)
		}
	}
	popts, err := cli.NewProjectOptions(o.Files,
		cli.WithWorkingDirectory(o.WorkingDir),
		cli.WithEnv(env),
		// .env of the directory compose runs in (or --env-file) ...
		cli.WithEnvFiles(o.EnvFiles...),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		// ... and again once the files (and so the project directory) are known.
		cli.WithEnvFiles(o.EnvFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(o.Profiles...),
		cli.WithName(o.ProjectName),
		// env_file: is merged into environment: and then dropped, as in
		// `compose config`.
		cli.WithDiscardEnvFile,
	)
	if err != nil {
		return nil, err
	}
	src, err := popts.LoadProject(ctx)
	if err != nil {
		return nil, explain(err, popts.ConfigPaths)
	}
	if src.Name == "" {
		return nil, errors.New("project name can't be empty. Use ProjectName option to set a valid name")
	}
	// Networks and volumes that no enabled service uses are not made.
	src = src.WithoutUnnecessaryResources()

	p, err := convert(src)
	if err != nil {
		return nil, err
	}
	for _, f := range p.Files {
		if declaresVersion(f) {
			p.Warnings = append(p.Warnings, fmt.Sprintf(versionObsolete, f))
		}
	}
	for _, w := range *logged {
		if !strings.Contains(w, "the attribute `version` is obsolete") {
			p.Warnings = append(p.Warnings, w)
		}
	}
	if o.Stderr != nil {
		for _, w := range p.Warnings {
			// compose prints its warnings with logrus's text format.
			if _, err := fmt.Fprintf(o.Stderr, "WARN[0000] %s\n", w); err != nil {
				return nil, fmt.Errorf("write warning: %w", err)
			}
		}
	}
	return p, nil
}

// YAML is `compose config`: the resolved project as YAML, in compose-go's
// (and so docker compose's) canonical form and key order.
func YAML(p *model.Project) ([]byte, error) {
	src, ok := p.Source.(*types.Project)
	if !ok || src == nil {
		return nil, errors.New("compose config: the project was not read by the loader")
	}
	return src.MarshalYAML()
}

// declaresVersion tells whether a compose file has a top-level `version:`.
func declaresVersion(file string) bool {
	if file == "-" {
		return false
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return false // compose-go has read it already; nothing to warn about
	}
	var top map[string]any
	if err := yaml.Unmarshal(b, &top); err != nil {
		return false
	}
	_, ok := top["version"]
	return ok
}

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// captureLogrus silences logrus's standard logger (compose-go's) and
// collects its warnings until restore is called.
func captureLogrus() (*[]string, func()) {
	l := logrus.StandardLogger()
	out, hooks := l.Out, l.ReplaceHooks(logrus.LevelHooks{})
	h := &collect{}
	l.AddHook(h)
	l.SetOutput(io.Discard)
	return &h.msgs, func() {
		l.SetOutput(out)
		l.ReplaceHooks(hooks)
	}
}

type collect struct{ msgs []string }

func (c *collect) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (c *collect) Fire(e *logrus.Entry) error {
	c.msgs = append(c.msgs, e.Message)
	return nil
}

// NormalizeName is compose's rule for a project name taken from a
// directory: lower case, only [a-z0-9_-], not starting with '_' or '-'
// ("My Shop.v2" → "myshopv2"). A name given by -p or COMPOSE_PROJECT_NAME
// is not normalised: Load refuses one that differs from its normal form.
func NormalizeName(s string) string {
	return composeloader.NormalizeProjectName(s)
}

// IsNoConfig tells whether Load failed because no compose file was given
// or found ("no configuration file provided: not found"); commands that
// need only the project's name (ps, logs, down with -p) go on without one.
func IsNoConfig(err error) bool {
	return errors.Is(err, errdefs.ErrNotFound) && strings.Contains(err.Error(), "no configuration file provided")
}
