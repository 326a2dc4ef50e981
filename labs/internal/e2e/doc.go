// Package e2e holds the end-to-end test of the homework machinery: it builds
// a tiny fake minibox module, makes its handout and grades both, to prove
// that the reference scores full points and the handout scores none. It has
// no code of its own.
package e2e
