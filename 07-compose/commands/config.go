package commands

import (
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"minibox/07-compose/loader"
)

func (s *session) configCmd() *cobra.Command {
	var o struct {
		services, volumes, networks, images, quiet bool
		output                                     string
	}
	cmd := &cobra.Command{
		Use:     "config [OPTIONS] [SERVICE...]",
		Aliases: []string{"convert"},
		Short:   "Parse, resolve and render compose file in canonical format",
		RunE: run(func(cmd *cobra.Command, args []string) error {
			p, err := s.load(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch {
			case o.quiet:
				return nil // loaded and valid: that is all -q asks
			case o.services:
				var names []string
				for _, sv := range p.Services {
					names = append(names, sv.Name)
				}
				sort.Strings(names) // compose-go's ServiceNames are sorted
				for _, n := range names {
					fmt.Fprintln(w, n)
				}
				return nil
			case o.volumes:
				for _, k := range sortedKeys(p.Volumes) {
					fmt.Fprintln(w, k)
				}
				return nil
			case o.networks:
				for _, k := range sortedKeys(p.Networks) {
					fmt.Fprintln(w, k)
				}
				return nil
			case o.images:
				for _, sv := range p.Services {
					fmt.Fprintln(w, sv.Image)
				}
				return nil
			}
			data, err := loader.YAML(p)
			if err != nil {
				return err
			}
			if o.output != "" {
				return writeFile(o.output, data)
			}
			_, err = w.Write(data)
			return err
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&o.services, "services", false, "Print the service names, one per line.")
	f.BoolVar(&o.volumes, "volumes", false, "Print the volume names, one per line.")
	f.BoolVar(&o.networks, "networks", false, "Print the network names, one per line.")
	f.BoolVar(&o.images, "images", false, "Print the image names, one per line.")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only validate the configuration, don't print anything")
	f.StringVarP(&o.output, "output", "o", "", "Save to file (default to stdout)")
	return cmd
}

// writeFile is config -o: the YAML in a file.
func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
