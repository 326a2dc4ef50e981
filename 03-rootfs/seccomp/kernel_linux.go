package seccomp

import "golang.org/x/sys/unix"

// kernelVersion is the running kernel's major and minor version, from
// uname(2); {0, 0} if it cannot be read, so that no minKernel rule applies.
func kernelVersion() [2]int {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return [2]int{}
	}
	v, err := parseKernel(unix.ByteSliceToString(u.Release[:]))
	if err != nil {
		// "6.18.44-fc": parseKernel wants digits; cut the suffix.
		r := unix.ByteSliceToString(u.Release[:])
		for i, c := range r {
			if c != '.' && (c < '0' || c > '9') {
				r = r[:i]
				break
			}
		}
		v, _ = parseKernel(r)
	}
	return v
}
