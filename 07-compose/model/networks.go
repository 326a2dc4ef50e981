package model

import "sort"

// NetworkNames are the keys of the service's networks in compose's order
// (NetworksByPriority): the highest priority first, then by name. The first
// is the one a container is created on; it is connected to the others after.
func (s *Service) NetworkNames() []string {
	names := make([]string, 0, len(s.Networks))
	for k := range s.Networks {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		pi, pj := s.Networks[names[i]].Priority, s.Networks[names[j]].Priority
		if pi != pj {
			return pi > pj
		}
		return names[i] < names[j]
	})
	return names
}
