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
	"os"
	"path/filepath"

	"minibox/04-storage/commands"
	"minibox/04-storage/engine"
	"minibox/04-storage/engine/enginetest"
)

func main() {
	commands.Main("minibox", "minibox: a small Docker without a daemon (lessons 01-04)", wire)
}

// wire makes the engine with this lesson's implementations. The storage
// is a stand-in (a copied directory per container) until lesson 04's
// storage package is wired here.
func wire(g commands.Globals) (*engine.Engine, error) {
	rts, err := g.Runtimes()
	if err != nil {
		return nil, err
	}
	return engine.New(engine.Options{
		DataRoot:       g.DataRoot,
		ExecRoot:       g.ExecRoot,
		Storage:        &enginetest.Storage{Dir: filepath.Join(g.DataRoot, "teststorage"), Rootfs: os.Getenv(enginetest.RootfsEnv)},
		Images:         enginetest.Images{},
		Runtimes:       rts,
		DefaultRuntime: g.DefaultRuntime,
	})
}
