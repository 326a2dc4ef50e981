package grade

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Canned `go test -json` streams, as Go 1.26 writes them (Time fields cut).

const streamMixed = `{"Action":"start","Package":"ex/p"}
{"Action":"run","Package":"ex/p","Test":"TestPass"}
{"Action":"output","Package":"ex/p","Test":"TestPass","Output":"=== RUN   TestPass\n"}
{"Action":"output","Package":"ex/p","Test":"TestPass","Output":"    p_test.go:5: fine\n"}
{"Action":"output","Package":"ex/p","Test":"TestPass","Output":"--- PASS: TestPass (1.50s)\n"}
{"Action":"pass","Package":"ex/p","Test":"TestPass","Elapsed":1.5}
{"Action":"run","Package":"ex/p","Test":"TestFail"}
{"Action":"output","Package":"ex/p","Test":"TestFail","Output":"=== RUN   TestFail\n"}
{"Action":"output","Package":"ex/p","Test":"TestFail","Output":"    p_test.go:6: want 1, got 2\n"}
{"Action":"output","Package":"ex/p","Test":"TestFail","Output":"--- FAIL: TestFail (0.00s)\n"}
{"Action":"fail","Package":"ex/p","Test":"TestFail","Elapsed":0}
{"Action":"run","Package":"ex/p","Test":"TestSkip"}
{"Action":"output","Package":"ex/p","Test":"TestSkip","Output":"=== RUN   TestSkip\n"}
{"Action":"output","Package":"ex/p","Test":"TestSkip","Output":"    p_test.go:7: needs root\n"}
{"Action":"output","Package":"ex/p","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}
{"Action":"skip","Package":"ex/p","Test":"TestSkip","Elapsed":0}
{"Action":"run","Package":"ex/p","Test":"TestSub"}
{"Action":"output","Package":"ex/p","Test":"TestSub","Output":"=== RUN   TestSub\n"}
{"Action":"run","Package":"ex/p","Test":"TestSub/a"}
{"Action":"output","Package":"ex/p","Test":"TestSub/a","Output":"=== RUN   TestSub/a\n"}
{"Action":"output","Package":"ex/p","Test":"TestSub/a","Output":"--- PASS: TestSub/a (0.00s)\n"}
{"Action":"pass","Package":"ex/p","Test":"TestSub/a","Elapsed":0}
{"Action":"run","Package":"ex/p","Test":"TestSub/b"}
{"Action":"output","Package":"ex/p","Test":"TestSub/b","Output":"=== RUN   TestSub/b\n"}
{"Action":"output","Package":"ex/p","Test":"TestSub/b","Output":"    p_test.go:10: sub b broke\n"}
{"Action":"output","Package":"ex/p","Test":"TestSub/b","Output":"--- FAIL: TestSub/b (0.00s)\n"}
{"Action":"fail","Package":"ex/p","Test":"TestSub/b","Elapsed":0}
{"Action":"output","Package":"ex/p","Test":"TestSub","Output":"--- FAIL: TestSub (0.00s)\n"}
{"Action":"fail","Package":"ex/p","Test":"TestSub","Elapsed":0}
{"Action":"run","Package":"ex/p","Test":"TestSubSkips"}
{"Action":"output","Package":"ex/p","Test":"TestSubSkips","Output":"=== RUN   TestSubSkips\n"}
{"Action":"run","Package":"ex/p","Test":"TestSubSkips/a"}
{"Action":"output","Package":"ex/p","Test":"TestSubSkips/a","Output":"=== RUN   TestSubSkips/a\n"}
{"Action":"output","Package":"ex/p","Test":"TestSubSkips/a","Output":"    p_test.go:13: x\n"}
{"Action":"output","Package":"ex/p","Test":"TestSubSkips/a","Output":"--- SKIP: TestSubSkips/a (0.00s)\n"}
{"Action":"skip","Package":"ex/p","Test":"TestSubSkips/a","Elapsed":0}
{"Action":"output","Package":"ex/p","Test":"TestSubSkips","Output":"--- PASS: TestSubSkips (0.00s)\n"}
{"Action":"pass","Package":"ex/p","Test":"TestSubSkips","Elapsed":0}
{"Action":"output","Package":"ex/p","Output":"FAIL\n"}
{"Action":"output","Package":"ex/p","Output":"FAIL\tex/p\t0.010s\n"}
{"Action":"fail","Package":"ex/p","Elapsed":0.01}
`

// streamExit: TestExit called os.Exit, so it and TestLater never report.
const streamExit = `{"Action":"start","Package":"ex/p"}
{"Action":"run","Package":"ex/p","Test":"TestPass"}
{"Action":"output","Package":"ex/p","Test":"TestPass","Output":"--- PASS: TestPass (0.00s)\n"}
{"Action":"pass","Package":"ex/p","Test":"TestPass","Elapsed":0}
{"Action":"run","Package":"ex/p","Test":"TestExit"}
{"Action":"output","Package":"ex/p","Test":"TestExit","Output":"=== RUN   TestExit\n"}
{"Action":"output","Package":"ex/p","Test":"TestExit","Output":"    exit_test.go:9: about to exit\n"}
{"Action":"output","Package":"ex/p","Output":"FAIL\tex/p\t0.010s\n"}
{"Action":"fail","Package":"ex/p","Elapsed":0.011}
`

const streamPanic = `{"Action":"start","Package":"ex/q"}
{"Action":"run","Package":"ex/q","Test":"TestPanic"}
{"Action":"output","Package":"ex/q","Test":"TestPanic","Output":"=== RUN   TestPanic\n"}
{"Action":"output","Package":"ex/q","Test":"TestPanic","Output":"--- FAIL: TestPanic (0.00s)\n"}
{"Action":"output","Package":"ex/q","Test":"TestPanic","Output":"panic: boom [recovered, repanicked]\n"}
{"Action":"output","Package":"ex/q","Test":"TestPanic","Output":"\n"}
{"Action":"output","Package":"ex/q","Test":"TestPanic","Output":"goroutine 21 [running]:\n"}
{"Action":"fail","Package":"ex/q","Test":"TestPanic","Elapsed":0}
{"Action":"output","Package":"ex/q","Output":"FAIL\tex/q\t0.017s\n"}
{"Action":"fail","Package":"ex/q","Elapsed":0.018}
`

const streamBuildFailed = `{"ImportPath":"ex/r [ex/r.test]","Action":"build-output","Output":"# ex/r [ex/r.test]\n"}
{"ImportPath":"ex/r [ex/r.test]","Action":"build-output","Output":"r/r_test.go:3:32: undefined: undefined\n"}
{"ImportPath":"ex/r [ex/r.test]","Action":"build-fail"}
{"Action":"start","Package":"ex/r"}
{"Action":"output","Package":"ex/r","Output":"FAIL\tex/r [build failed]\n"}
{"Action":"fail","Package":"ex/r","Elapsed":0,"FailedBuild":"ex/r [ex/r.test]"}
`

// streamTimeout: the test binary panics on its -timeout; the running test
// gets no final event.
const streamTimeout = `{"Action":"run","Package":"ex/s","Test":"TestSlow"}
{"Action":"output","Package":"ex/s","Test":"TestSlow","Output":"=== RUN   TestSlow\n"}
{"Action":"output","Package":"ex/s","Test":"TestSlow","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"ex/s","Test":"TestSlow","Output":"\trunning tests:\n"}
{"Action":"output","Package":"ex/s","Output":"FAIL\tex/s\t1.010s\n"}
{"Action":"fail","Package":"ex/s","Elapsed":1.01}
`

func TestParseEvents(t *testing.T) {
	type want struct {
		result string
		output []string // expected lines, in order, among the test's output
	}
	cases := []struct {
		name      string
		stream    string
		tests     map[string]want
		pkgOutput []string
		failed    bool
	}{
		{
			name:   "pass, fail, skip and subtests",
			stream: streamMixed,
			tests: map[string]want{
				"TestPass": {Pass, []string{"    p_test.go:5: fine", "--- PASS: TestPass (1.50s)"}},
				"TestFail": {Fail, []string{"    p_test.go:6: want 1, got 2", "--- FAIL: TestFail (0.00s)"}},
				"TestSkip": {Skip, []string{"    p_test.go:7: needs root", "--- SKIP: TestSkip (0.00s)"}},
				// A failing subtest fails its test; its output is the test's.
				"TestSub": {Fail, []string{"--- PASS: TestSub/a (0.00s)", "    p_test.go:10: sub b broke",
					"--- FAIL: TestSub/b (0.00s)", "--- FAIL: TestSub (0.00s)"}},
				// Only top-level results count: a skipped subtest of a passing test.
				"TestSubSkips": {Pass, nil},
				"TestSub/a":    {Missing, nil},
				"TestNotRun":   {Missing, nil},
			},
			pkgOutput: []string{"FAIL", "FAIL\tex/p\t0.010s"},
			failed:    true,
		},
		{
			name:   "os.Exit leaves the test without a final event",
			stream: streamExit,
			tests: map[string]want{
				"TestPass":  {Pass, nil},
				"TestExit":  {Missing, []string{"    exit_test.go:9: about to exit"}},
				"TestLater": {Missing, nil},
			},
			pkgOutput: []string{"FAIL\tex/p\t0.010s"},
			failed:    true,
		},
		{
			name:   "panic",
			stream: streamPanic,
			tests: map[string]want{
				"TestPanic": {Fail, []string{"--- FAIL: TestPanic (0.00s)", "panic: boom [recovered, repanicked]", "", "goroutine 21 [running]:"}},
				"TestAfter": {Missing, nil},
			},
			failed: true,
		},
		{
			name:      "build failure",
			stream:    streamBuildFailed,
			tests:     map[string]want{"TestBuild": {Missing, nil}},
			pkgOutput: []string{"# ex/r [ex/r.test]", "r/r_test.go:3:32: undefined: undefined", "FAIL\tex/r [build failed]"},
			failed:    true,
		},
		{
			name:   "timeout",
			stream: streamTimeout,
			tests:  map[string]want{"TestSlow": {Missing, []string{"panic: test timed out after 1s", "\trunning tests:"}}},
			failed: true,
		},
		{
			name:      "not JSON",
			stream:    "go: cannot find main module\n\n{broken\n",
			tests:     map[string]want{"TestA": {Missing, nil}},
			pkgOutput: []string{"go: cannot find main module", "{broken"},
		},
		{
			name:   "empty",
			stream: "",
			tests:  map[string]want{"TestA": {Missing, nil}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseEvents(strings.NewReader(tc.stream))
			require.NoError(t, err)
			assert.Equal(t, tc.failed, s.Failed)
			if tc.pkgOutput != nil {
				assert.Equal(t, tc.pkgOutput, s.Output)
			}
			for name, w := range tc.tests {
				r := s.Result(name)
				assert.Equal(t, name, r.Name)
				assert.Equal(t, w.result, r.Result, name)
				if w.output != nil {
					assert.Equal(t, w.output, r.Output, name)
				}
				for _, line := range r.Output {
					assert.NotContains(t, line, "=== RUN", name)
				}
			}
		})
	}
}

func TestParseEventsElapsed(t *testing.T) {
	s, err := ParseEvents(strings.NewReader(streamMixed))
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Millisecond, s.Result("TestPass").Elapsed)
}

func TestParseEventsSameNameInTwoPackages(t *testing.T) {
	stream := `{"Action":"pass","Package":"a","Test":"TestX"}
{"Action":"fail","Package":"b","Test":"TestX"}
{"Action":"pass","Package":"c","Test":"TestX"}
`
	s, err := ParseEvents(strings.NewReader(stream))
	require.NoError(t, err)
	assert.Equal(t, Fail, s.Result("TestX").Result)
}

func TestParseEventsCapsOutput(t *testing.T) {
	var b strings.Builder
	for i := 0; i < MaxOutputLines+15; i++ {
		fmt.Fprintf(&b, `{"Action":"output","Package":"p","Test":"TestBig","Output":"line %d\n"}`+"\n", i)
	}
	b.WriteString(`{"Action":"fail","Package":"p","Test":"TestBig"}` + "\n")
	s, err := ParseEvents(strings.NewReader(b.String()))
	require.NoError(t, err)
	r := s.Result("TestBig")
	assert.Len(t, r.Output, MaxOutputLines)
	assert.Equal(t, "line 0", r.Output[0])
	assert.Equal(t, 15, r.Omitted)
}
