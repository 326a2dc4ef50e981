package commands

import (
	"minibox/05-network/firewall"
	"minibox/internal/doctor"
)

// DoctorChecks are lesson 05's: IP forwarding, the firewall backend and
// br_netfilter, as the firewall package sees them.
func DoctorChecks() []doctor.Check {
	var out []doctor.Check
	for _, c := range firewall.Checks() {
		c := c
		out = append(out, doctor.Check{Name: c.Name, Run: func() doctor.Result {
			r := doctor.Result{Detail: c.Detail}
			switch c.Status {
			case "ok":
				r.Status = doctor.OK
			case "warn":
				r.Status = doctor.Warn
			default:
				r.Status = doctor.Fail
			}
			return r
		}})
	}
	return out
}
