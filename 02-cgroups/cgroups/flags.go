package cgroups

import "github.com/spf13/pflag"

// AddFlags registers Docker's resource flags of `run` on fs, filling f.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&f.Memory, "memory", "m", "", "memory limit (e.g. 64m, 1g)")
	fs.StringVar(&f.MemorySwap, "memory-swap", "", "memory plus swap limit; -1: unlimited swap (default: twice --memory)")
	fs.StringVar(&f.MemoryReservation, "memory-reservation", "", "soft memory limit, enforced only under memory pressure")
	fs.BoolVar(&f.OOMKillDisable, "oom-kill-disable", false, "disable the OOM killer (cgroup v1 only)")
	fs.StringVar(&f.CPUs, "cpus", "", "number of CPUs (e.g. 0.5)")
	fs.Int64Var(&f.CPUPeriod, "cpu-period", 0, "CFS period in microseconds")
	fs.Int64Var(&f.CPUQuota, "cpu-quota", 0, "CFS quota in microseconds per period")
	fs.Int64VarP(&f.CPUShares, "cpu-shares", "c", 0, "relative CPU weight (default 1024)")
	fs.StringVar(&f.CpusetCpus, "cpuset-cpus", "", "CPUs the container may run on (e.g. 0-2,4)")
	fs.StringVar(&f.CpusetMems, "cpuset-mems", "", "memory nodes the container may use (e.g. 0)")
	fs.Int64Var(&f.PidsLimit, "pids-limit", 0, "maximum number of processes and threads (-1: unlimited)")
	fs.Uint16Var(&f.BlkioWeight, "blkio-weight", 0, "relative block I/O weight, 10 to 1000")
	fs.StringArrayVar(&f.DeviceReadBps, "device-read-bps", nil, "limit the read rate from a device (e.g. /dev/sda:1mb)")
	fs.StringArrayVar(&f.DeviceWriteBps, "device-write-bps", nil, "limit the write rate to a device (e.g. /dev/sda:1mb)")
}
