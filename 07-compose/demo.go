package main

import (
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/demorun"
)

// The finale's files (07-compose/examples/finale) are part of the
// program, so that the demo runs from any directory.
//
//go:embed examples/finale
var finale embed.FS

// newDemoCmd is the course's finale in one go, in a minibox installation
// of its own (temporary roots, removed at the end): a compose app of three
// services — one built from a Dockerfile, one gated on another's health —
// brought up, reached from this machine, brought up again (nothing
// changes), and taken down; its named volume outlives `down` and goes with
// `down -v`.
func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Bring up a three-service compose app (one built, one gated on another's health), reach it from the host, take it down",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.RequireRoot(); err != nil {
				return err
			}
			r, err := demorun.New(cmd.OutOrStdout())
			if err != nil {
				return cli.Fail(err)
			}
			d := &demo{Demo: r, file: filepath.Join(r.Dir, "finale", "compose.yaml")}
			err = d.run()
			if cerr := r.Cleanup(d.compose("down", "-v", "--rmi", "local")); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				return cli.Fail(err)
			}
			return nil
		},
	}
}

type demo struct {
	*demorun.Demo
	file string
}

// compose is a compose command line on the demo's file.
func (d *demo) compose(args ...string) []string {
	return append([]string{"compose", "-f", d.file}, args...)
}

func (d *demo) run() error {
	d.Intro()
	tarPath, err := d.BusyboxTar()
	if err != nil {
		return err
	}
	if err := d.Steps([]string{"import", "-c", `CMD ["sh"]`, tarPath, "busybox"}); err != nil {
		return err
	}
	if err := copyFinale(filepath.Join(d.Dir, "finale")); err != nil {
		return err
	}
	data, err := os.ReadFile(d.file)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "\nThe app, %s (web -> api -> db):\n", d.file)
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			fmt.Fprint(d.Out, "    "+l)
		}
	}
	fmt.Fprintln(d.Out, "\nup: the network and the volume, api's image built, then db; api waits for db's")
	fmt.Fprintln(d.Out, "healthcheck to pass, web starts after api:")
	if err := d.Steps(d.compose("up", "-d", "--build"), d.compose("ps")); err != nil {
		return err
	}
	fmt.Fprintln(d.Out, "\nFrom this machine, port 8080 (web, which asks api by its service name, which asks db):")
	if err := d.get("http://127.0.0.1:8080/cgi-bin/messages"); err != nil {
		return err
	}
	fmt.Fprintln(d.Out, "\nup again: the configuration hashes match, so every container is kept as it is:")
	if err := d.Steps(d.compose("up", "-d"), d.compose("logs", "db")); err != nil {
		return err
	}
	fmt.Fprintln(d.Out, "\ndown removes the containers and the network; the named volume stays until down -v:")
	if err := d.Steps(d.compose("down"), []string{"volume", "ls"}, d.compose("down", "-v"), []string{"volume", "ls"}); err != nil {
		return err
	}
	fmt.Fprintln(d.Out, "\nNext: 07-compose/README.md reads the file section by section, shows how the graph")
	fmt.Fprintln(d.Out, "orders the start, why depends_on without a healthcheck is not \"ready\", and what")
	fmt.Fprintln(d.Out, "each lesson's layer of minibox is beside Docker's.")
	return nil
}

// get prints what the app answers at url (as curl would), retrying for a
// few seconds while web's server starts.
func (d *demo) get(url string) error {
	fmt.Fprintf(d.Out, "  $ curl %s\n", url)
	c := &http.Client{Timeout: 10 * time.Second}
	var last error
	for range 50 {
		resp, err := c.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				for _, l := range strings.SplitAfter(string(body), "\n") {
					if l != "" {
						fmt.Fprint(d.Out, "  "+l)
					}
				}
				return nil
			}
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the app does not answer: %w", last)
}

// copyFinale writes the embedded example into dir, scripts executable.
func copyFinale(dir string) error {
	sub, err := fs.Sub(finale, "examples/finale")
	if err != nil {
		return err
	}
	return fs.WalkDir(sub, ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, p)
		if de.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.Contains(p, "cgi-bin/") {
			mode = 0o755 // embed keeps no modes: httpd runs only executable CGI scripts
		}
		return os.WriteFile(dst, data, mode)
	})
}
