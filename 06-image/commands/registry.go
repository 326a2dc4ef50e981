package commands

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/06-image/distribution"
	"minibox/06-image/registry"
)

// parsePlatform is --platform: os/arch[/variant], as Docker's.
func parsePlatform(s string) (imagespec.Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	if len(parts) < 2 || len(parts) > 3 {
		return imagespec.Platform{}, fmt.Errorf("%q: unknown operating system or architecture: invalid argument", s)
	}
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, " \t") {
			return imagespec.Platform{}, fmt.Errorf("%q: unknown operating system or architecture: invalid argument", s)
		}
	}
	p := imagespec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	} else if p.Architecture == "arm64" {
		p.Variant = "v8"
	}
	return p, nil
}

// pullCmd is `docker pull NAME[:TAG|@DIGEST]`.
func (x *CLI) pullCmd() *cobra.Command {
	var quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: x.withEngine(func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error {
			ref, err := images.ParseReference(strings.Split(args[0], "@")[0])
			if err != nil {
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("invalid reference format: %w", err)}
			}
			var out io.Writer = cmd.OutOrStdout()
			if quiet {
				out = io.Discard
			}
			pl, err := x.puller(out, st)
			if err != nil {
				return fail(err)
			}
			if platform != "" {
				if pl.Platform, err = parsePlatform(platform); err != nil {
					return &cli.ExitStatus{Code: 1, Err: err}
				}
			}
			ctx, cancel := interruptible()
			defer cancel()
			if _, err := pl.Pull(ctx, args[0]); err != nil {
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("Error response from daemon: %s", err)}
			}
			if quiet {
				full := ref.String()
				if _, d, ok := strings.Cut(args[0], "@"); ok {
					full = ref.Repository() + "@" + d
				}
				fmt.Fprintln(cmd.OutOrStdout(), full)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	cmd.Flags().StringVar(&platform, "platform", "", "set platform if server is multi-platform capable (os/arch[/variant])")
	return cmd
}

// pushCmd is `docker push NAME[:TAG]`.
func (x *CLI) pushCmd() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  exactArgs(1),
		RunE: x.withEngine(func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error {
			ref, err := images.ParseReference(args[0])
			if err != nil || strings.Contains(args[0], "@") {
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("invalid reference format")}
			}
			if _, err := st.Resolve(args[0]); err != nil {
				if isNotFound(err) {
					return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("An image does not exist locally with the tag: %s", ref.Familiar())}
				}
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("Error response from daemon: %s", err)}
			}
			c, err := x.client()
			if err != nil {
				return fail(err)
			}
			var out io.Writer = cmd.OutOrStdout()
			if quiet {
				out = io.Discard
			}
			p := &distribution.Pusher{Store: st, Client: c, Out: out, TTY: isTTY(out)}
			ctx, cancel := interruptible()
			defer cancel()
			if _, err := p.Push(ctx, args[0]); err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			if quiet {
				fmt.Fprintln(cmd.OutOrStdout(), ref.String())
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	return cmd
}

// loginCmd is `docker login [-u USER] [-p PASS | --password-stdin] [SERVER]`:
// the credentials are checked with the registry (ping, token) and kept in
// minibox's config.json in Docker's format.
func (x *CLI) loginCmd() *cobra.Command {
	var f loginFlags
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.passwordSet = cmd.Flags().Changed("password")
			warn, err := f.check()
			if err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			host, key, err := loginServer(server)
			if err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			if warn {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
			}
			a := registry.Auth{Username: f.user, Password: f.password}
			if f.passwordStdin {
				data, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return &cli.ExitStatus{Code: 1, Err: err}
				}
				a.Password = readPasswordStdin(string(data))
			}
			if err := x.prompt(cmd, &a, f.passwordSet || f.passwordStdin); err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			creds, err := x.credentials()
			if err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			c, err := x.client()
			if err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			ctx, cancel := interruptible()
			defer cancel()
			if err := c.Login(ctx, host, a); err != nil {
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("Error response from daemon: %s", err)}
			}
			creds.Set(key, a)
			path := x.configPath()
			if err := creds.Save(path); err != nil {
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("Error saving credentials: %w", err)}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "WARNING! Your password will be stored unencrypted in %s.\n", path)
			fmt.Fprintln(out, "minibox has no credential helpers: the file is readable by root only (0600).")
			fmt.Fprintln(out)
			fmt.Fprintln(out, "Login Succeeded")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.user, "username", "u", "", "username")
	fl.StringVarP(&f.password, "password", "p", "", "password")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "take the password from stdin")
	return cmd
}

// prompt asks for what the flags did not give, on a terminal only.
func (x *CLI) prompt(cmd *cobra.Command, a *registry.Auth, havePassword bool) error {
	if a.Username != "" && havePassword {
		return nil
	}
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return fmt.Errorf("Error: Cannot perform an interactive login from a non TTY device")
	}
	out := cmd.OutOrStdout()
	if a.Username == "" {
		fmt.Fprint(out, "Username: ")
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("read the username: %w", err)
		}
		a.Username = strings.TrimSpace(line)
		if a.Username == "" {
			return fmt.Errorf("Error: Non-null Username Required")
		}
	}
	if !havePassword {
		fmt.Fprint(out, "Password: ")
		pw, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(out)
		if err != nil {
			return fmt.Errorf("read the password: %w", err)
		}
		a.Password = string(pw)
		if a.Password == "" {
			return fmt.Errorf("Error: Password Required")
		}
	}
	return nil
}

// logoutCmd is `docker logout [SERVER]`.
func (x *CLI) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			_, key, err := loginServer(server)
			if err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			creds, err := x.credentials()
			if err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			if !creds.Delete(key) {
				fmt.Fprintf(cmd.OutOrStdout(), "Not logged in to %s\n", key)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", key)
			if err := creds.Save(x.configPath()); err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			return nil
		},
	}
}
