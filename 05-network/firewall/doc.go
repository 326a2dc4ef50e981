// Package firewall is lesson 05's packet filter: the rules that let
// containers on minibox's bridges reach the world (masquerade), keep two
// networks apart (isolation), keep an --internal network in, and survive a
// host where Docker already ran.
//
// Netfilter calls every base chain registered at a hook, in priority order,
// and a packet goes on only if none of them drops it: an accept ends one
// chain, not the verdict. So minibox keeps its own rules in a table of its
// own, `ip minibox`, rewritten whole by Sync in one transaction (easy to
// read, easy to remove), and that is enough on a clean host. But when Docker
// ran, iptables-nft left table `ip filter` with chain FORWARD at policy drop,
// and no accept of ours can undo that drop. Like Docker for its bridges, Sync
// then inserts accepts for our bridges at the top of that chain, each tagged
// with the comment "minibox" so that Sync can find its own (and only its
// own) again, and Remove can take them away.
//
// The rules, for a network on bridge BR with subnet S and gateway G:
//
//	table ip minibox {
//	  chain postrouting { type nat hook postrouting priority srcnat
//	    ip saddr S oifname != BR masquerade            # not for --internal
//	  }
//	  chain forward { type filter hook forward priority filter
//	    iifname BR oifname OTHER drop                  # isolation, per pair of bridges
//	    iifname BR oifname != BR drop                  # --internal: nothing out ...
//	    oifname BR iifname != BR drop                  # ... and nothing in
//	    oifname BR ct state established,related accept # others: replies come in,
//	    oifname BR iifname != BR drop                  # nothing else (Docker's DOCKER chain)
//	  }
//	  chain input { type filter hook input priority filter
//	    iifname BR ip daddr G udp/tcp dport 53 accept  # --internal: the resolver only
//	    iifname BR ct state established,related accept
//	    iifname BR drop
//	  }
//	}
//	table ip filter { chain FORWARD {                  # only if it exists
//	    iifname BR oifname BR accept comment "minibox" # bridged traffic (br_netfilter)
//	    iifname BR accept comment "minibox"            # not for --internal
//	    oifname BR ctstate RELATED,ESTABLISHED accept comment "minibox"
//	} }
//
// Sync also sets net.ipv4.ip_forward=1 when a network has a way out (the
// kernel routes nothing between interfaces without it), and, as Docker,
// never sets it back. Watch it all with `nft list ruleset` and
// `iptables -S FORWARD`.
package firewall
