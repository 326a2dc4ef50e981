// Command 04-storage is minibox as of lesson 04: a container engine over
// lessons 01-03. Containers are things now, with IDs, names, state, logs
// and a monitor each, and Docker's commands to work with them.
//
//	sudo go run ./04-storage run -d --name web busybox httpd -f
//	sudo go run ./04-storage ps -a
//	sudo go run ./04-storage logs -f web
//	sudo go run ./04-storage rm -f web
package main

import (
	"minibox/04-storage/commands"
	"minibox/04-storage/containerfs"
	"minibox/04-storage/engine"
)

func main() {
	commands.Main("minibox", "minibox: a small Docker without a daemon (lessons 01-04)", wire)
}

// wire makes the engine with this lesson's implementations: containers
// get their file systems from containerfs (image layers, a snapshot per
// container, volumes), and images come from its image store.
func wire(g commands.Globals) (*engine.Engine, error) {
	rts, err := g.Runtimes()
	if err != nil {
		return nil, err
	}
	st, err := containerfs.New(g.DataRoot)
	if err != nil {
		return nil, err
	}
	st.DefaultDriver = g.StorageDriver
	e, err := engine.New(engine.Options{
		DataRoot:       g.DataRoot,
		ExecRoot:       g.ExecRoot,
		Storage:        st,
		Images:         st.Images,
		Runtimes:       rts,
		DefaultRuntime: g.DefaultRuntime,
	})
	if err != nil {
		return nil, err
	}
	// --volumes-from names a container: the engine finds it.
	st.Lookup = func(ref string) (*engine.Container, error) {
		in, err := e.Inspect(ref)
		if err != nil {
			return nil, err
		}
		return in.Container, nil
	}
	return e, nil
}
