// Package lab is what a student's handout calls where a task is still to be
// written. The reference code never calls it; the handout generator puts
// `lab.Todo("01.1")` where the reference implementation of task 01.1 was.
package lab

import (
	"fmt"
	"os"
	"sync"
)

// Todo returns the error a missing task produces: it names the task and the
// sheet that explains it, so a failing test points the student to the work.
func Todo(task string) error {
	return fmt.Errorf("LAB %s is not done yet: see labs/README.md and the lesson's lab sheet", task)
}

// Warn prints, on standard error, that a task is still to be written. A stub
// calls it where failing outright would also break the other tasks' tests.
func Warn(task string) {
	fmt.Fprintf(os.Stderr, "minibox: %v\n", Todo(task))
}

var warned sync.Map // task id -> struct{}

// WarnOnce is Warn, the first time it is called for a task in this
// process: for a stub that runs once per rule or per call.
func WarnOnce(task string) {
	if _, done := warned.LoadOrStore(task, struct{}{}); !done {
		Warn(task)
	}
}
