package model

// The labels compose puts on what it makes, so that `ps`, `inspect` and
// the next `up` know which project, service and configuration a container,
// network or volume belongs to. They are docker compose's own names: a
// tool that reads Docker's labels reads ours.
const (
	LabelProject     = "com.docker.compose.project"
	LabelService     = "com.docker.compose.service"
	LabelNumber      = "com.docker.compose.container-number"
	LabelOneoff      = "com.docker.compose.oneoff" // "True" for `compose run`, else "False"
	LabelConfigHash  = "com.docker.compose.config-hash"
	LabelWorkingDir  = "com.docker.compose.project.working_dir"
	LabelConfigFiles = "com.docker.compose.project.config_files"
	LabelVersion     = "com.docker.compose.version"
	LabelImage       = "com.docker.compose.image" // the image ID the container was made from
	LabelDependsOn   = "com.docker.compose.depends_on"
	LabelNetwork     = "com.docker.compose.network"
	LabelVolume      = "com.docker.compose.volume"
)

// Version is what minibox puts in com.docker.compose.version.
const Version = "2.0.0-minibox"
