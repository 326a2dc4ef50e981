package commands

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"minibox/04-storage/engine"
	"minibox/07-compose/model"
)

// selection is which of the engine's containers a command means: the
// project's (by its label), of some services, running ones or all, with
// or without `compose run`'s one-off containers, one replica or every.
type selection struct {
	Project  string
	Services []string // none: every service
	All      bool     // stopped ones too
	Oneoff   bool     // include `compose run` containers
	Index    int      // > 0: only the container of that number
}

// selectContainers picks the selection's containers out of list and
// sorts them by service, then number, one-off containers last (compose's
// order for exec and port, which take the first).
func selectContainers(list []*engine.Info, sel selection) []*engine.Info {
	var out []*engine.Info
	for _, in := range list {
		l := in.Config.Labels
		if l[model.LabelProject] != sel.Project {
			continue
		}
		if len(sel.Services) > 0 && !contains(sel.Services, l[model.LabelService]) {
			continue
		}
		if !sel.Oneoff && l[model.LabelOneoff] == "True" {
			continue
		}
		if !sel.All && !in.State.Running && !in.State.Restarting {
			continue
		}
		if sel.Index > 0 && l[model.LabelNumber] != strconv.Itoa(sel.Index) {
			continue
		}
		out = append(out, in)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Config.Labels, out[j].Config.Labels
		if a[model.LabelService] != b[model.LabelService] {
			return a[model.LabelService] < b[model.LabelService]
		}
		if oa, ob := a[model.LabelOneoff] == "True", b[model.LabelOneoff] == "True"; oa != ob {
			return ob
		}
		na, _ := strconv.Atoi(a[model.LabelNumber])
		nb, _ := strconv.Atoi(b[model.LabelNumber])
		if na != nb {
			return na < nb
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// containers lists the selection's containers from the engine.
func (s *session) containers(sel selection) ([]*engine.Info, error) {
	e, err := s.engine()
	if err != nil {
		return nil, err
	}
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	return selectContainers(list, sel), nil
}

// serviceContainer is the one container exec and port act on: the
// service's number index (1 when not given), running; compose's errors
// when there is none.
func (s *session) serviceContainer(project, service string, index int) (*engine.Info, error) {
	list, err := s.containers(selection{Project: project, Services: []string{service}, Index: index, Oneoff: true})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		if index > 0 {
			return nil, fmt.Errorf("service %q is not running container #%d", service, index)
		}
		return nil, fmt.Errorf("service %q is not running", service)
	}
	return list[0], nil
}

// shortName is a container's name without the project's prefix, as
// compose's log prefixes show it: p-web-1 → web-1 (a container_name stays
// whole).
func shortName(project, name string) string {
	if rest, ok := strings.CutPrefix(name, project+"-"); ok && rest != "" {
		return rest
	}
	return name
}
