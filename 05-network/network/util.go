package network

import (
	"slices"
	"strconv"
	"strings"
)

func sortStrings(s []string) { slices.Sort(s) }

// sortAttachments orders by interface number: eth2 before eth10.
func sortAttachments(as []*Attachment) {
	num := func(a *Attachment) int {
		n, _ := strconv.Atoi(strings.TrimPrefix(a.IfName, "eth"))
		return n
	}
	slices.SortFunc(as, func(a, b *Attachment) int { return num(a) - num(b) })
}
