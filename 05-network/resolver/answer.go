package resolver

import (
	"net/netip"

	"github.com/miekg/dns"
)

// TTL is the time to live of the resolver's own answers, in seconds:
// Docker's embedded server says 600 too. A container that leaves is still
// cached that long by clients that cache (most libcs do not).
const TTL = 600

// Answer is the reply to q (one question, for one of our names) from the
// name's addresses: an A record per IPv4 address for an A query, an AAAA
// per IPv6 one for AAAA, and for any other type, or no address of the
// family asked, NOERROR with no answer ("the name exists, not this type"):
// NXDOMAIN would tell the client the name itself is gone. The records
// carry the name as it was asked (its case too: some clients check it).
func Answer(q *dns.Msg, addrs []netip.Addr) *dns.Msg {
	// LAB 05.4 BEGIN: answer an A or AAAA query from the name's addresses
	m := new(dns.Msg).SetReply(q)
	m.RecursionAvailable = true
	if len(q.Question) != 1 {
		return m.SetRcode(q, dns.RcodeFormatError)
	}
	qn := q.Question[0]
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: qn.Name, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
	}
	for _, a := range addrs {
		switch {
		case qn.Qtype == dns.TypeA && a.Unmap().Is4():
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: a.Unmap().AsSlice()})
		case qn.Qtype == dns.TypeAAAA && a.Is6() && !a.Is4In6():
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	return m
	// LAB 05.4 END
	// LAB 05.4 STUB: lab.WarnOnce("05.4") // every address as an A record whatever the type asked, TTL 0, no recursion-available flag
	// LAB 05.4 STUB: m := new(dns.Msg).SetReply(q)
	// LAB 05.4 STUB: for _, a := range addrs {
	// LAB 05.4 STUB: m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: a.AsSlice()})
	// LAB 05.4 STUB: }
	// LAB 05.4 STUB: return m
}
