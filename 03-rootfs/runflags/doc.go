// Package runflags reads the `run` flags that lesson 03 adds to minibox,
// with Docker's names and syntax: the environment (-e, --env-file), the
// working directory (-w), the user (-u), a read-only root (--read-only),
// capabilities (--cap-add, --cap-drop, --privileged), --security-opt,
// --ulimit, bind mounts (-v), tmpfs mounts (--tmpfs) and the terminal
// flags (-i, -t).
//
// Each parser of user input (ParseEnv, ParseEnvFile, ParseUser,
// NormalizeCapability, ParseVolume, ParseTmpfs, ParseUlimit,
// ParseSecurityOpt) is pure: it reads only its argument, so it has table
// tests and a fuzz target. Flags.Apply puts the parsed values into an OCI
// spec; it is the one place that looks at the host (the root filesystem's
// /etc/passwd, the caller's environment, host paths that must exist).
package runflags
