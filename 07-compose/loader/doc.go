// Package loader reads compose files into lesson 07's model.
//
// A compose file is only a description; before anything runs, docker
// compose turns it into one resolved project, and so does this package:
//
//	files ──> find ──> read .env ──> parse YAML ──> ${VAR} ──> merge -f files
//	      ──> check against the compose schema ──> normalise ──> profiles
//	      ──> model.Project
//
// Step by step:
//
//   - find: -f, else COMPOSE_FILE, else compose.yaml (or compose.yml,
//     docker-compose.yml, docker-compose.yaml) in the current directory or
//     the nearest parent that has one, with compose.override.yaml beside it;
//   - .env: the project directory's .env (or --env-file) fills in what the
//     shell does not set, for ${VAR} only: it is not the containers'
//     environment (that is environment: and env_file:);
//   - ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$ for a
//     dollar: interpolation happens on the text's values, before merging;
//   - merge: a later file overrides scalars, merges mappings key by key
//     and appends to lists such as ports;
//   - normalise: the short forms become the long ones ("8080:80" a port
//     with a target and a published port, "./html:/usr/share/html:ro" a
//     bind mount with an absolute source, depends_on: [db] a dependency
//     with condition service_started), a service without networks: joins
//     "default", and networks and volumes get their real names,
//     PROJECT_KEY;
//   - profiles: a service with profiles: runs only when one of them is
//     asked for (--profile, COMPOSE_PROFILES).
//
// compose-go, the library docker compose itself uses, does all of that;
// this package calls it in docker compose's order, adds the file and the
// line to its errors where they are missing, and converts its big project
// (a hundred fields per service) into the small model.Project the rest of
// the lesson works on. It is the only package of the lesson that imports
// compose-go, and its types do not leave it.
package loader
