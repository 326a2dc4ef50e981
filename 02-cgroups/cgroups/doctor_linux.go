package cgroups

import (
	"fmt"
	"os"
	"strings"

	"minibox/internal/doctor"
)

// DoctorChecks are the checks lesson 02 adds to `doctor`: which layout, and
// whether the controllers the limits need are there for minibox to use.
func DoctorChecks() []doctor.Check {
	return []doctor.Check{{Name: "cgroup controllers", Run: checkControllers}}
}

func checkControllers() doctor.Result {
	v, err := Detect(DefaultRoot)
	if err != nil {
		return doctor.Result{Status: doctor.Fail, Detail: err.Error(), Fix: "mount the cgroup filesystem (every systemd machine does)"}
	}
	want := []string{"memory", "cpu", "pids", "cpuset", "io"}
	var have map[string]bool
	if v == 2 {
		b, err := os.ReadFile(DefaultRoot + "/cgroup.controllers")
		if err != nil {
			return doctor.Result{Status: doctor.Fail, Detail: err.Error()}
		}
		have = map[string]bool{}
		for _, c := range strings.Fields(string(b)) {
			have[c] = true
		}
	} else {
		mounts, err := v1Mounts(DefaultRoot)
		if err != nil {
			return doctor.Result{Status: doctor.Fail, Detail: err.Error()}
		}
		have = map[string]bool{}
		for c := range mounts {
			have[c] = true
		}
		have["io"] = have["blkio"]
		want = append(want, "cpuacct", "freezer")
	}
	var missing []string
	for _, c := range want {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	detail := fmt.Sprintf("cgroup v%d: %s", v, strings.Join(want, " "))
	if len(missing) > 0 {
		return doctor.Result{Status: doctor.Warn, Detail: fmt.Sprintf("cgroup v%d lacks %s", v, strings.Join(missing, " ")),
			Fix: "the limits that need them fail with a clear error; a recent Ubuntu/Debian kernel has them all"}
	}
	return doctor.Result{Status: doctor.OK, Detail: detail}
}
