package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/demorun"
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
			r, err := demorun.New(cmd.OutOrStdout())
			if err != nil {
				return cli.Fail(err)
			}
			d := &demo{r}
			err = d.run()
			if cerr := r.Cleanup([]string{"network", "rm", "demo-net"}); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				return cli.Fail(err)
			}
			return nil
		},
	}
}

type demo struct{ *demorun.Demo }

const webCmd = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"

func (d *demo) run() error {
	d.Intro()
	tarPath, err := d.BusyboxTar()
	if err != nil {
		return err
	}
	fmt.Fprintln(d.Out, "A user-defined network, a web server on it, and a client that finds it by name:")
	if err := d.Steps(
		[]string{"import", tarPath, "busybox"},
		[]string{"network", "create", "demo-net"},
		[]string{"run", "-d", "--name", "web", "-h", "web", "--network", "demo-net", "busybox", "sh", "-c", webCmd},
		[]string{"run", "--rm", "--network", "demo-net", "busybox", "wget", "-q", "-O", "-", "http://web/"},
	); err != nil {
		return err
	}
	fmt.Fprintln(d.Out, "\nThe name was answered by the network's resolver, at the network's gateway address:")
	if err := d.Steps(
		[]string{"run", "--rm", "--network", "demo-net", "busybox", "cat", "/etc/resolv.conf"},
		[]string{"network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} gateway {{.Gateway}}{{end}}", "demo-net"},
	); err != nil {
		return err
	}
	fmt.Fprintln(d.Out, "\nA port published on the host's loopback (a free one picked), fetched from the host:")
	if _, err := d.Minibox("run", "-d", "--name", "pub", "-h", "pub", "-p", "127.0.0.1::80", "busybox", "sh", "-c", webCmd); err != nil {
		return err
	}
	hostPort, err := d.Minibox("port", "pub", "80")
	if err != nil {
		return err
	}
	url := "http://" + strings.TrimSpace(hostPort) + "/"
	fmt.Fprintf(d.Out, "  host$ curl %s\n", url)
	body, err := get(url)
	if err != nil {
		return err
	}
	fmt.Fprint(d.Out, "  "+body)
	fmt.Fprintln(d.Out, "\nEverything goes: the containers, then the network with its bridge, rules and resolver:")
	if err := d.Steps([]string{"rm", "-f", "web", "pub"}, []string{"network", "rm", "demo-net"}); err != nil {
		return err
	}
	fmt.Fprintln(d.Out, "\nNext: 05-network/README.md walks through the namespace's stack, veth and the bridge, NAT,")
	fmt.Fprintln(d.Out, "-p and the resolver with `ip`, `bridge fdb`, `nft list ruleset` and `tcpdump`.")
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
