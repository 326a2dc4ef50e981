package firewall

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Net is what the firewall needs to know of a network on a bridge.
type Net struct {
	Name     string
	Bridge   string       // the bridge's link name
	Subnet   netip.Prefix // IPv4
	Internal bool         // --internal: no way in or out
	Gateway  netip.Addr   // the bridge's address, where the network's resolver listens
}

// TableName is minibox's own nftables table (family ip).
const TableName = "minibox"

// Tag is the comment on the rules minibox puts into chains not its own.
const Tag = "minibox"

// IPForwardPath is the sysctl that lets the kernel route between interfaces,
// per network namespace.
const IPForwardPath = "/proc/sys/net/ipv4/ip_forward"

// Sync makes the firewall of the current network namespace match nets:
// table ip minibox exactly, the tagged accepts in an existing ip filter
// FORWARD chain, and ip_forward. Empty nets remove everything of ours.
func Sync(nets []Net) error {
	for _, n := range nets {
		if err := n.validate(); err != nil {
			return err
		}
	}
	// The filter FORWARD chain is read, then changed: if another Sync or
	// iptables changed it in between, a rule we delete may be gone, and
	// the transaction fails whole. Reading again is then enough.
	var err error
	for range 3 {
		if err = sync(nets); err == nil {
			break
		}
	}
	if err != nil {
		return err
	}
	for _, n := range nets {
		if !n.Internal {
			if err := os.WriteFile(IPForwardPath, []byte("1\n"), 0o644); err != nil {
				return fmt.Errorf("enable ip_forward: %w", err)
			}
			break
		}
	}
	return nil
}

// Remove takes away everything Sync made: Sync(nil).
func Remove() error { return Sync(nil) }

func (n Net) validate() error {
	switch {
	case n.Bridge == "" || len(n.Bridge) >= unix.IFNAMSIZ:
		return fmt.Errorf("network %s: bad bridge name %q", n.Name, n.Bridge)
	case !n.Subnet.IsValid() || !n.Subnet.Addr().Is4():
		return fmt.Errorf("network %s: subnet %s is not IPv4", n.Name, n.Subnet)
	case n.Internal && !n.Gateway.Is4():
		return fmt.Errorf("network %s: internal network without an IPv4 gateway", n.Name)
	}
	return nil
}

// sync builds one transaction: the table deleted and built again, the
// tagged rules deleted and inserted again. The kernel applies it all or
// nothing, so no packet ever meets half a ruleset.
func sync(nets []Net) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	// Adding the table first makes the delete valid when it is absent.
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName}
	c.AddTable(t)
	c.DelTable(t)
	if len(nets) > 0 {
		c.AddTable(t)
		addOurTable(c, t, nets)
	}
	if err := syncFilterForward(c, nets); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("apply nftables rules for %d networks: %w", len(nets), err)
	}
	return nil
}

func addOurTable(c *nftables.Conn, t *nftables.Table, nets []Net) {
	accept := nftables.ChainPolicyAccept
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	in := c.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	rule := func(ch *nftables.Chain, es ...[]expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: concat(es...)})
	}
	for _, n := range nets {
		if !n.Internal {
			// Leaving the network for anywhere else: the source becomes
			// the address of the link it leaves by.
			rule(post, ipSaddr(n.Subnet), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, n.Bridge), masq())
		}
	}
	for _, n := range nets {
		for _, o := range nets {
			if o.Bridge != n.Bridge {
				rule(fwd, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge), ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, o.Bridge), verdict(expr.VerdictDrop))
			}
		}
	}
	for _, n := range nets {
		if n.Internal {
			rule(fwd, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, n.Bridge), verdict(expr.VerdictDrop))
			rule(fwd, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, n.Bridge), verdict(expr.VerdictDrop))
			// The host is a way out too: only the network's resolver, and
			// replies to what the host opened (the -p proxy, exec), get in.
			for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
				rule(in, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge), ipDaddr(n.Gateway), dport(proto, 53), verdict(expr.VerdictAccept))
			}
			rule(in, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge), ctEstablished(), verdict(expr.VerdictAccept))
			rule(in, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge), verdict(expr.VerdictDrop))
			continue
		}
		// From elsewhere into the network only replies: a new connection
		// comes through a published port's proxy, from the host.
		rule(fwd, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), ctEstablished(), verdict(expr.VerdictAccept))
		rule(fwd, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, n.Bridge), verdict(expr.VerdictDrop))
	}
}

// syncFilterForward deletes our tagged rules from table ip filter chain
// FORWARD and inserts the ones nets need at its top, if that chain exists.
func syncFilterForward(c *nftables.Conn, nets []Net) error {
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("list ip chains: %w", err)
	}
	var fwd *nftables.Chain
	for _, ch := range chains {
		if ch.Table.Name == "filter" && ch.Name == "FORWARD" {
			fwd = ch
		}
	}
	if fwd == nil {
		return nil
	}
	t := fwd.Table
	rules, err := c.GetRules(t, fwd)
	if err != nil {
		return fmt.Errorf("list rules of ip filter FORWARD: %w", err)
	}
	for _, r := range rules {
		if tagged(r) {
			if err := c.DelRule(r); err != nil {
				return fmt.Errorf("delete rule %d of ip filter FORWARD: %w", r.Handle, err)
			}
		}
	}
	var want [][]expr.Any
	for _, n := range nets {
		// With br_netfilter, traffic between two containers on one bridge
		// passes FORWARD too (in and out by the bridge).
		want = append(want, concat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge), ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), verdict(expr.VerdictAccept)))
		if !n.Internal {
			want = append(want,
				concat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge), verdict(expr.VerdictAccept)),
				concat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), xtEstablished(), verdict(expr.VerdictAccept)))
		}
	}
	// Each insert goes to the top: insert the last first.
	for i := len(want) - 1; i >= 0; i-- {
		c.InsertRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: want[i], UserData: userdata.AppendString(nil, userdata.TypeComment, Tag)})
	}
	return nil
}

func tagged(r *nftables.Rule) bool {
	s, ok := userdata.GetString(r.UserData, userdata.TypeComment)
	return ok && strings.TrimRight(s, "\x00") == Tag
}
