package testkit

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// nftRuleset fingerprints the nftables ruleset of the calling thread's
// network namespace: one line per table, chain, set and rule, without what
// the kernel changes by itself (rule handles, counters, the elements of
// dynamic or timed sets), so two snapshots of an untouched ruleset are equal.
// iptables-nft rules are nftables rules too, so they are covered; a kernel
// without nf_tables has an empty ruleset.
func nftRuleset() ([]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables connection: %w", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "protocol not supported") {
			return nil, nil
		}
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	chains, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	var out []string
	for _, t := range tables {
		tname := fmt.Sprintf("table %s %s", familyName(t.Family), t.Name)
		out = append(out, fmt.Sprintf("%s flags=%d", tname, t.Flags))
		sets, err := c.GetSets(t)
		if err != nil {
			return nil, fmt.Errorf("list sets of %s: %w", tname, err)
		}
		for _, s := range sets {
			line := fmt.Sprintf("%s set %s key=%s data=%s", tname, s.Name, s.KeyType.Name, s.DataType.Name)
			if !s.Dynamic && !s.HasTimeout {
				elems, err := c.GetSetElements(s)
				if err != nil {
					return nil, fmt.Errorf("list elements of %s set %s: %w", tname, s.Name, err)
				}
				var es []string
				for _, e := range elems {
					es = append(es, fmt.Sprintf("%x-%x:%x:%v", e.Key, e.KeyEnd, e.Val, e.IntervalEnd))
				}
				sort.Strings(es)
				line += " elements=" + strings.Join(es, ",")
			}
			out = append(out, line)
		}
		for _, ch := range chains {
			if ch.Table.Name != t.Name || ch.Table.Family != t.Family {
				continue
			}
			line := fmt.Sprintf("%s chain %s", tname, ch.Name)
			if ch.Hooknum != nil {
				line += fmt.Sprintf(" type=%s hook=%d", ch.Type, *ch.Hooknum)
			}
			if ch.Priority != nil {
				line += fmt.Sprintf(" priority=%d", *ch.Priority)
			}
			if ch.Policy != nil {
				line += fmt.Sprintf(" policy=%d", *ch.Policy)
			}
			out = append(out, line)
			rules, err := c.GetRules(t, ch)
			if err != nil {
				return nil, fmt.Errorf("list rules of %s chain %s: %w", tname, ch.Name, err)
			}
			// The position in the chain matters (an accept before a drop),
			// so it is part of the line; the handle is not.
			for i, r := range rules {
				out = append(out, fmt.Sprintf("%s chain %s rule %d: %s userdata=%q", tname, ch.Name, i, exprsString(r.Exprs), r.UserData))
			}
		}
	}
	return out, nil
}

func exprsString(es []expr.Any) string {
	parts := make([]string, 0, len(es))
	for _, e := range es {
		switch e := e.(type) {
		case *expr.Counter:
			parts = append(parts, "counter")
		case *expr.Quota:
			q := *e
			q.Consumed = 0
			parts = append(parts, fmt.Sprintf("%#v", q))
		default:
			parts = append(parts, fmt.Sprintf("%#v", e))
		}
	}
	return strings.Join(parts, "; ")
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family%d", f)
}

// NftRuleset is the nftables ruleset of the calling thread's network
// namespace, one line per table, chain, set and rule (see Residue); inside
// Netns.Do it is that namespace's.
func NftRuleset() ([]string, error) { return nftRuleset() }
