//go:build !linux

package splice

import "os"

// openRoot opens the submission's directory (see open_linux.go).
func openRoot(dir string) (*os.File, error) { return os.Open(dir) }

// readBeneath reads rel beneath root without following symlinks; without
// openat2(2) it checks each element of the path with Lstat (see
// readBeneathPortable).
func readBeneath(root *os.File, rel string) ([]byte, error) {
	return readBeneathPortable(root.Name(), rel)
}
