package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
)

var errorsIs = errors.Is

var fieldRe = regexp.MustCompile(`\{\{\s*\.(\w+)[^}]*\}\}`)

// templateFuncs are Docker's template functions.
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
	"upper": strings.ToUpper, "lower": strings.ToLower,
	"split": strings.Split, "join": strings.Join,
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad": func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
}

// Docker's argument-count errors ("requires exactly 1 argument."), status 1.
func argsErr(cmd *cobra.Command, what string) error {
	return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("%q requires %s.\nSee '%s --help'.", cmd.CommandPath(), what, cmd.CommandPath())}
}

func plural(n int) string {
	if n == 1 {
		return "1 argument"
	}
	return fmt.Sprintf("%d arguments", n)
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return argsErr(cmd, "exactly "+plural(n))
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return argsErr(cmd, "at least "+plural(n))
		}
		return nil
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return argsErr(cmd, "at most "+plural(n))
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return argsErr(cmd, "no arguments")
	}
	return nil
}
