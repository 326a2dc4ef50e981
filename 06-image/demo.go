package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/demorun"
)

// newDemoCmd shows lesson 06 in one go, in a minibox installation of its
// own (temporary roots, removed at the end): a small image built from a
// Dockerfile, built again from the cache, its history, and the round trip
// through a registry (Debian's docker-registry on 127.0.0.1, when it is
// installed) or, without one, through save and load.
func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Build an image, rebuild it from the cache, push it to a local registry, remove it, pull it and run it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.RequireRoot(); err != nil {
				return err
			}
			r, err := demorun.New(cmd.OutOrStdout())
			if err != nil {
				return cli.Fail(err)
			}
			d := &demo{Demo: r}
			err = d.run()
			if d.registry != nil {
				d.registry.Process.Kill()
				d.registry.Wait()
			}
			if cerr := r.Cleanup(); err == nil && cerr != nil {
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
	registry *exec.Cmd
}

const demoDockerfile = `FROM busybox
ENV GREETING=hello
RUN echo "$GREETING from a build step" > /greeting
CMD ["cat", "/greeting"]
`

const registryBinary = "/usr/bin/docker-registry"

func (d *demo) run() error {
	d.Intro()
	tarPath, err := d.BusyboxTar()
	if err != nil {
		return err
	}
	ctx := filepath.Join(d.Dir, "hello")
	if err := os.Mkdir(ctx, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(demoDockerfile), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "A base image, and a Dockerfile in %s:\n", ctx)
	if err := d.Steps([]string{"import", "-c", `CMD ["sh"]`, tarPath, "busybox"}); err != nil {
		return err
	}
	for _, l := range strings.SplitAfter(demoDockerfile, "\n") {
		if l != "" {
			fmt.Fprint(d.Out, "    "+l)
		}
	}
	fmt.Fprintln(d.Out, "\nThe build: every instruction a step, every step an image (RUN in a container):")
	if err := d.Steps([]string{"build", "--network", "none", "-t", "hello", ctx}); err != nil {
		return err
	}
	fmt.Fprintln(d.Out, "\nThe same build again: nothing changed, so every step comes from the cache:")
	if err := d.Steps(
		[]string{"build", "--network", "none", "-t", "hello", ctx},
		[]string{"history", "hello"},
		[]string{"run", "--rm", "--network", "none", "hello"},
	); err != nil {
		return err
	}
	host, err := d.startRegistry()
	if err != nil {
		return err
	}
	if host == "" {
		fmt.Fprintln(d.Out, "\nNo registry here (apt-get install docker-registry for one); the image travels as an archive instead:")
		archive := filepath.Join(d.Dir, "hello.tar")
		if err := d.Steps(
			[]string{"save", "-o", archive, "hello"},
			[]string{"rmi", "hello"},
			[]string{"load", "-i", archive},
			[]string{"run", "--rm", "--network", "none", "hello"},
		); err != nil {
			return err
		}
	} else {
		name := host + "/demo/hello"
		fmt.Fprintf(d.Out, "\nA registry on %s (docker-registry): push, remove, and run, which pulls it back:\n", host)
		if err := d.Steps(
			[]string{"tag", "hello", name},
			[]string{"push", name},
			[]string{"rmi", "hello", name},
			[]string{"run", "--rm", "--network", "none", name},
			[]string{"images", "--digests"},
		); err != nil {
			return err
		}
	}
	fmt.Fprintln(d.Out, "\nNext: 06-image/README.md takes the image apart (config, manifest, layers, digests),")
	fmt.Fprintln(d.Out, "walks through the registry protocol and shows the cache's hits and misses.")
	return nil
}

// startRegistry runs docker-registry on a free port of 127.0.0.1 with its
// storage in the demo's directory; "" when it is not installed.
func (d *demo) startRegistry() (string, error) {
	if _, err := os.Stat(registryBinary); err != nil {
		return "", nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	host := l.Addr().String()
	l.Close()
	cfg := filepath.Join(d.Dir, "registry.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %q\nhttp:\n  addr: %q\n",
		filepath.Join(d.Dir, "registry"), host)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return "", err
	}
	cmd := exec.Command(registryBinary, "serve", cfg)
	// The kernel kills the registry when the demo dies (a closed pipe, a
	// Ctrl-C): it never outlives the demo's directory.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start docker-registry: %w", err)
	}
	d.registry = cmd
	c := &http.Client{Timeout: time.Second}
	for i := 0; i < 100; i++ {
		if resp, err := c.Get("http://" + host + "/v2/"); err == nil {
			resp.Body.Close()
			return host, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("docker-registry did not answer on %s", host)
}
