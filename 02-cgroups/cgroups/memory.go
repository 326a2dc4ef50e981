package cgroups

import (
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// memoryWrites lists the files and values that set the memory limit and the
// swap limit on cgroup version v. The spec counts like v1 does: Swap is
// memory plus swap, -1 is unlimited.
//
//	v1: memory.limit_in_bytes = Limit, memory.memsw.limit_in_bytes = Swap
//	v2: memory.max = Limit, memory.swap.max = Swap - Limit (or "max")
func memoryWrites(v int, mem *specs.LinuxMemory) ([]write, error) {
	// LAB 02.1 BEGIN: the memory and swap limit files for v1 and v2
	var w []write
	if v == 1 {
		if mem.Limit != nil {
			w = append(w, write{"memory.limit_in_bytes", strconv.FormatInt(*mem.Limit, 10)})
		}
		if mem.Swap != nil {
			w = append(w, write{"memory.memsw.limit_in_bytes", strconv.FormatInt(*mem.Swap, 10)})
		}
		return w, nil
	}
	if mem.Limit != nil {
		limit := "max"
		if *mem.Limit > 0 {
			limit = strconv.FormatInt(*mem.Limit, 10)
		}
		w = append(w, write{"memory.max", limit})
	}
	swap, ok, err := SwapV2(mem.Limit, mem.Swap)
	if err != nil {
		return nil, err
	}
	if ok {
		w = append(w, write{"memory.swap.max", swap})
	}
	return w, nil
	// LAB 02.1 END
	// LAB 02.1 STUB: return nil, lab.Todo("02.1")
}
