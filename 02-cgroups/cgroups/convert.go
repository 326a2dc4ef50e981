package cgroups

import (
	"fmt"
	"math"
)

// The spec speaks cgroup v1: shares, quota and period, memory+swap. The v2
// files take other units. These conversions are the ones runc and crun use,
// written once here and tested in convert_test.go.

// CPUQuota turns --cpus into a CFS quota and period: in every period of
// 100ms the group may run for cpus*100ms, summed over all its threads. So
// 0.5 is 50ms per 100ms, and 2 is 200ms per 100ms (two CPUs' worth).
func CPUQuota(cpus float64) (quota int64, period uint64) {
	// LAB 02.2 BEGIN: --cpus to a CFS quota per 100ms period
	period = DefaultCPUPeriod
	quota = int64(math.Round(cpus * float64(period)))
	return quota, period
	// LAB 02.2 END
	// LAB 02.2 STUB: return 0, 0
}

// CPUMax is the content of v2's cpu.max: "QUOTA PERIOD", or "max PERIOD"
// when there is no quota.
func CPUMax(quota *int64, period *uint64) string {
	// LAB 02.2 BEGIN: the cpu.max line for a quota and period
	p := uint64(DefaultCPUPeriod)
	if period != nil && *period != 0 {
		p = *period
	}
	if quota == nil || *quota <= 0 {
		return fmt.Sprintf("max %d", p)
	}
	return fmt.Sprintf("%d %d", *quota, p)
	// LAB 02.2 END
	// LAB 02.2 STUB: return ""
}

// SharesToWeight maps v1 cpu.shares (2..262144, default 1024) onto v2
// cpu.weight (1..10000, default 100) linearly, as runc does: 2 -> 1,
// 262144 -> 10000. (1024 lands on 39, not 100: the two defaults do not line
// up, a known wart of the conversion.) 0 means "not set" and stays 0; a
// value outside v1's range is first clamped into it, as the v1 kernel does.
func SharesToWeight(shares uint64) uint64 {
	// LAB 02.2 BEGIN: cpu.shares to cpu.weight, clamped into v1's range
	if shares == 0 {
		return 0
	}
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
	// LAB 02.2 END
	// LAB 02.2 STUB: return 0
}

// BlkioToIOWeight maps v1 blkio.weight (10..1000) onto v2 io.weight
// (1..10000) linearly: 10 -> 1, 1000 -> 10000. 0 means "not set" and stays
// 0; a value outside v1's range is first clamped into it.
func BlkioToIOWeight(w uint16) uint64 {
	// LAB 02.2 BEGIN: blkio.weight to io.weight, clamped into v1's range
	if w == 0 {
		return 0
	}
	v := min(max(uint64(w), 10), 1000)
	return 1 + (v-10)*9999/990
	// LAB 02.2 END
	// LAB 02.2 STUB: return 0
}

// SwapV2 converts the spec's swap (v1: memory plus swap, -1 unlimited) into
// v2's memory.swap.max, which counts swap alone. ok is false when nothing is
// to be written.
func SwapV2(limit, swap *int64) (value string, ok bool, err error) {
	if swap == nil {
		return "", false, nil
	}
	if *swap == -1 {
		return "max", true, nil
	}
	if limit == nil || *limit <= 0 {
		return "", false, fmt.Errorf("a swap limit needs a memory limit")
	}
	if *swap < *limit {
		return "", false, fmt.Errorf("memory+swap (%d) is below the memory limit (%d)", *swap, *limit)
	}
	return fmt.Sprint(*swap - *limit), true, nil
}

// HumanBytes prints a byte count the way a person reads it: 32MiB, 1.5GiB.
func HumanBytes(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f%s", v, units[i])
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}
