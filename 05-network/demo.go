package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/storage"
	"minibox/internal/busybox"
)

// newDemoCmd shows lesson 05 in one go, in a minibox installation of its
// own (temporary roots, removed at the end): a user network, a web server
// on it found by name from another container, the resolver behind that
// name, and a published port fetched from the host.
func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Show two containers talking by name on a user network and a published port fetched from the host",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.RequireRoot(); err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return cli.Fail(fmt.Errorf("find this program: %w", err))
			}
			dir, err := os.MkdirTemp("", "minibox-demo-")
			if err != nil {
				return cli.Fail(err)
			}
			d := &demo{out: cmd.OutOrStdout(), self: self, dir: dir}
			err = d.run()
			if cerr := d.cleanup(); err == nil && cerr != nil {
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
	out  io.Writer
	self string
	dir  string
}

const webCmd = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"

func (d *demo) run() error {
	fmt.Fprintf(d.out, "A minibox of its own for the demo: every command below is\n"+
		"  %s --data-root %s/data --exec-root %s/run ...\n"+
		"(all of it is removed at the end).\n\n", d.self, d.dir, d.dir)
	rootfs := filepath.Join(d.dir, "busybox")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return err
	}
	if err := busybox.Build(rootfs); err != nil {
		return err
	}
	tarPath := filepath.Join(d.dir, "busybox.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		return err
	}
	_, err = storage.WriteTar(f, rootfs)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tar the busybox root: %w", err)
	}
	fmt.Fprintln(d.out, "A user-defined network, a web server on it, and a client that finds it by name:")
	for _, s := range [][]string{
		{"import", tarPath, "busybox"},
		{"network", "create", "demo-net"},
		{"run", "-d", "--name", "web", "-h", "web", "--network", "demo-net", "busybox", "sh", "-c", webCmd},
		{"run", "--rm", "--network", "demo-net", "busybox", "wget", "-q", "-O", "-", "http://web/"},
	} {
		if _, err := d.minibox(s...); err != nil {
			return err
		}
	}
	fmt.Fprintln(d.out, "\nThe name was answered by the network's resolver, at the network's gateway address:")
	for _, s := range [][]string{
		{"run", "--rm", "--network", "demo-net", "busybox", "cat", "/etc/resolv.conf"},
		{"network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} gateway {{.Gateway}}{{end}}", "demo-net"},
	} {
		if _, err := d.minibox(s...); err != nil {
			return err
		}
	}
	fmt.Fprintln(d.out, "\nA port published on the host's loopback (a free one picked), fetched from the host:")
	if _, err := d.minibox("run", "-d", "--name", "pub", "-h", "pub", "-p", "127.0.0.1::80", "busybox", "sh", "-c", webCmd); err != nil {
		return err
	}
	hostPort, err := d.minibox("port", "pub", "80")
	if err != nil {
		return err
	}
	url := "http://" + strings.TrimSpace(hostPort) + "/"
	fmt.Fprintf(d.out, "  host$ curl %s\n", url)
	body, err := get(url)
	if err != nil {
		return err
	}
	fmt.Fprint(d.out, "  "+body)
	fmt.Fprintln(d.out, "\nEverything goes: the containers, then the network with its bridge, rules and resolver:")
	for _, s := range [][]string{{"rm", "-f", "web", "pub"}, {"network", "rm", "demo-net"}} {
		if _, err := d.minibox(s...); err != nil {
			return err
		}
	}
	fmt.Fprintln(d.out, "\nNext: 05-network/README.md walks through the namespace's stack, veth and the bridge, NAT,")
	fmt.Fprintln(d.out, "-p and the resolver with `ip`, `bridge fdb`, `nft list ruleset` and `tcpdump`.")
	return nil
}

// get fetches url, retrying while the server starts.
func get(url string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	var last error
	for i := 0; i < 50; i++ {
		resp, err := c.Get(url)
		if err == nil {
			data, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == 200 {
				return string(data), nil
			}
			err = fmt.Errorf("%s: %s %v", url, resp.Status, rerr)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("fetch %s: %w", url, last)
}

func (d *demo) minibox(args ...string) (string, error) {
	fmt.Fprintf(d.out, "  $ minibox %s\n", shellJoin(args))
	cmd := exec.Command(d.self, append([]string{"--data-root", filepath.Join(d.dir, "data"), "--exec-root", filepath.Join(d.dir, "run")}, args...)...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	for _, l := range strings.SplitAfter(buf.String(), "\n") {
		if l != "" {
			fmt.Fprint(d.out, "  "+l)
		}
	}
	if err != nil {
		return buf.String(), fmt.Errorf("minibox %s: %w", strings.Join(args, " "), err)
	}
	return buf.String(), nil
}

// cleanup removes whatever the demo made, a failed run's too.
func (d *demo) cleanup() error {
	roots := []string{"--data-root", filepath.Join(d.dir, "data"), "--exec-root", filepath.Join(d.dir, "run")}
	if out, err := exec.Command(d.self, append(roots, "ps", "-aq", "--no-trunc")...).Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			exec.Command(d.self, append(roots, "rm", "-f", "-v", id)...).Run()
		}
	}
	exec.Command(d.self, append(roots, "network", "rm", "demo-net")...).Run()
	if err := os.RemoveAll(d.dir); err != nil {
		return fmt.Errorf("remove the demo's roots: %w", err)
	}
	return nil
}

func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$;&|<>(){}*?!\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
