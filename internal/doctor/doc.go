// Package doctor tells a student whether their machine can run the lab and,
// for each thing that is missing, how to fix it. Every lesson program (and
// later the minibox tool) offers a `doctor` command: it runs Base() plus the
// checks its own lesson appends, probes the kernel for real (it creates each
// namespace type once) and prints one line per check with a fix for failures.
package doctor
