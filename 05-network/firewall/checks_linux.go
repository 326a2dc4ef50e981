package firewall

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/nftables"
)

// Check is one line of `minibox doctor`.
type Check struct {
	Name   string
	Status string // ok, warn or fail
	Detail string
}

// BridgeNFPath is br_netfilter's switch that sends bridged IPv4 traffic
// through the ip family's hooks (and so through FORWARD).
const BridgeNFPath = "/proc/sys/net/bridge/bridge-nf-call-iptables"

// legacyTablesPath lists the tables of the old iptables (x_tables) backend.
const legacyTablesPath = "/proc/net/ip_tables_names"

// Checks looks at what the firewall depends on in the current network
// namespace: ip_forward, the nftables backend (and old iptables rules beside
// it), and br_netfilter.
func Checks() []Check {
	return []Check{ipForwardCheck(), backendCheck(), bridgeNFCheck()}
}

func ipForwardCheck() Check {
	c := Check{Name: "ip_forward"}
	b, err := os.ReadFile(IPForwardPath)
	switch v := strings.TrimSpace(string(b)); {
	case err != nil:
		c.Status, c.Detail = "fail", fmt.Sprintf("read %s: %v", IPForwardPath, err)
	case v == "1":
		c.Status, c.Detail = "ok", "net.ipv4.ip_forward=1"
	default:
		c.Status, c.Detail = "warn", "net.ipv4.ip_forward="+v+": the kernel routes nothing out of a bridge; minibox sets it to 1 with the first bridge network that has a way out"
	}
	return c
}

func backendCheck() Check {
	c := Check{Name: "firewall backend"}
	conn, err := nftables.New()
	var chains []*nftables.Chain
	if err == nil {
		chains, err = conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	}
	if err != nil {
		c.Status, c.Detail = "fail", fmt.Sprintf("nftables not usable: %v", err)
		return c
	}
	c.Status, c.Detail = "ok", "nftables (netlink); minibox's rules in table ip "+TableName
	for _, ch := range chains {
		if ch.Table.Name == "filter" && ch.Name == "FORWARD" && ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
			c.Detail += `; ip filter FORWARD has policy drop (Docker ran here?): minibox inserts accepts commented "minibox" there`
		}
	}
	names, err := os.ReadFile(legacyTablesPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		c.Status, c.Detail = "warn", c.Detail+fmt.Sprintf("; read %s: %v", legacyTablesPath, err)
		return c
	}
	if legacy := strings.Fields(string(names)); len(legacy) > 0 {
		c.Status = "warn"
		c.Detail += fmt.Sprintf("; iptables-legacy tables present (%s): their rules apply too and minibox does not manage them, a legacy FORWARD DROP blocks the containers (see iptables-legacy -S)", strings.Join(legacy, ", "))
	}
	return c
}

func bridgeNFCheck() Check {
	c := Check{Name: "br_netfilter", Status: "ok"}
	b, err := os.ReadFile(BridgeNFPath)
	switch v := strings.TrimSpace(string(b)); {
	case errors.Is(err, os.ErrNotExist):
		c.Detail = "not loaded: traffic inside a bridge skips the ip firewall"
	case err != nil:
		c.Status, c.Detail = "warn", fmt.Sprintf("read %s: %v", BridgeNFPath, err)
	case v == "1":
		c.Detail = "bridge-nf-call-iptables=1: traffic between containers on one bridge passes FORWARD too; minibox accepts it for its bridges"
	default:
		c.Detail = "bridge-nf-call-iptables=" + v + ": traffic inside a bridge skips the ip firewall"
	}
	return c
}
