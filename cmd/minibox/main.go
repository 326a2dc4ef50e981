// Command minibox is the complete tool: every lesson wired (so far 01-04).
// Each later lesson adds its implementations to wire and its commands.
//
//	sudo go run ./cmd/minibox run -d --name web busybox httpd -f
//	sudo go run ./cmd/minibox ps -a
//	sudo go run ./cmd/minibox logs -f web
//	sudo go run ./cmd/minibox rm -f web
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
