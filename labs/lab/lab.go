// Package lab is what a student's handout calls where a task is still to be
// written. The reference code never calls it; the handout generator puts
// `lab.Todo("01.1")` where the reference implementation of task 01.1 was.
package lab

import "fmt"

// Todo returns the error a missing task produces: it names the task and the
// sheet that explains it, so a failing test points the student to the work.
func Todo(task string) error {
	return fmt.Errorf("LAB %s is not done yet: see labs/README.md and the lesson's lab sheet", task)
}
