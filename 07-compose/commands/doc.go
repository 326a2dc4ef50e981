// Package commands is lesson 07's part of the command line: `minibox
// compose`, docker compose v2's commands over a compose project.
//
// The commands split as compose's do. What changes state (up, down,
// start, stop, restart, rm, build, pull, push, run) goes to the project
// package's reconciler; what only prints or relays (ps, logs, exec, top,
// port, images, config) finds the project's containers by their
// com.docker.compose.* labels and asks the engine directly, exactly as
// docker compose asks dockerd for containers with a label filter: the
// labels are the whole link between a compose file and its containers.
//
// The project's flags (-f, -p, --env-file, --profile,
// --project-directory) are compose's own, before the subcommand
// (`minibox compose -f a.yaml -f b.yaml up -d`). They cannot be cobra
// persistent flags, because subcommands reuse the letters (`logs -f` is
// --follow, `run -p` is --publish): compose is its own small command tree,
// whose flags are parsed level by level, each level's before the next
// subcommand's name.
package commands
