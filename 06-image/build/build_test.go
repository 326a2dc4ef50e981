package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
)

func TestCacheKey(t *testing.T) {
	parent := digest.FromString("parent")
	other := digest.FromString("other")
	cfg := imagespec.ImageConfig{Env: []string{"PATH=/bin", "A=1"}, Cmd: []string{"sh"}}
	changed := imagespec.ImageConfig{Env: []string{"PATH=/bin", "A=2"}, Cmd: []string{"sh"}}
	reordered := imagespec.ImageConfig{Env: []string{"A=1", "PATH=/bin"}, Cmd: []string{"sh"}}
	run := "/bin/sh -c make"
	base := CacheKey(parent, cfg, run)
	// The formula, spelled out once: sha256(parent \n json(cfg) \n createdBy).
	assert.Equal(t, digest.FromString(parent.String()+"\n"+`{"Env":["PATH=/bin","A=1"],"Cmd":["sh"]}`+"\n"+run), base)
	tests := []struct {
		name      string
		parent    digest.Digest
		cfg       imagespec.ImageConfig
		createdBy string
		same      bool
	}{
		{"same inputs", parent, cfg, run, true},
		{"a deep copy of the config", parent, imagespec.ImageConfig{Env: slices.Clone(cfg.Env), Cmd: []string{"sh"}}, run, true},
		{"another parent", other, cfg, run, false},
		{"scratch as the parent", "", cfg, run, false},
		{"a changed env value", parent, changed, run, false},
		{"env in another order", parent, reordered, run, false},
		{"a label", parent, imagespec.ImageConfig{Env: cfg.Env, Cmd: cfg.Cmd, Labels: map[string]string{"a": "b"}}, run, false},
		{"another command", parent, cfg, "/bin/sh -c make install", false},
		{"a build arg in the line", parent, cfg, "|1 A=x /bin/sh -c make", false},
		{"another COPY checksum", parent, cfg, "/bin/sh -c #(nop) COPY file:ab in / ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := CacheKey(tt.parent, tt.cfg, tt.createdBy)
			require.NoError(t, k.Validate())
			if tt.same {
				assert.Equal(t, base, k)
			} else {
				assert.NotEqual(t, base, k)
			}
		})
	}
	// Map keys are sorted by encoding/json: the key does not depend on
	// the map's iteration order.
	l1 := imagespec.ImageConfig{Labels: map[string]string{"a": "1", "b": "2", "c": "3"}}
	l2 := imagespec.ImageConfig{Labels: map[string]string{"c": "3", "b": "2", "a": "1"}}
	assert.Equal(t, CacheKey(parent, l1, run), CacheKey(parent, l2, run))
}

const fourSteps = "FROM %s\nENV A=1\nRUN echo one\nCOPY f /f\nCMD [\"x\"]\n"

func TestCacheHitsAndMisses(t *testing.T) {
	e := newEnv(t)
	e.file("f", "v1")
	other := e.importImage("other:latest", map[string]string{"etc/other": "x"})
	_ = other

	first, out := e.mustBuild(fmt.Sprintf(fourSteps, "base"), Options{})
	assert.Equal(t, []bool{false, false, false, false}, hits(out), out)
	assert.Equal(t, 1, e.fake.count())

	// Unchanged: every step hits, nothing runs, the same image.
	again, out := e.mustBuild(fmt.Sprintf(fourSteps, "base"), Options{})
	assert.Equal(t, []bool{true, true, true, true}, hits(out), out)
	assert.Equal(t, first, again)
	assert.Equal(t, 1, e.fake.count())

	// Another base: the same instructions have another parent and miss.
	_, out = e.mustBuild(fmt.Sprintf(fourSteps, "other"), Options{})
	assert.Equal(t, []bool{false, false, false, false}, hits(out), out)
	assert.Equal(t, 2, e.fake.count())

	// A changed file: the steps before COPY hit, COPY and all after miss.
	e.file("f", "v2")
	_, out = e.mustBuild(fmt.Sprintf(fourSteps, "base"), Options{})
	assert.Equal(t, []bool{true, true, false, false}, hits(out), out)
	assert.Equal(t, 2, e.fake.count(), "RUN is a hit: its key is its text")

	// A changed ENV misses, and so does every later step, however
	// unchanged its text (a new parent; the cache is off after a miss).
	_, out = e.mustBuild(strings.Replace(fmt.Sprintf(fourSteps, "base"), "A=1", "A=2", 1), Options{})
	assert.Equal(t, []bool{false, false, false, false}, hits(out), out)
	assert.Equal(t, 3, e.fake.count())

	// The cache's record of A=1's steps is still good.
	_, out = e.mustBuild(fmt.Sprintf(fourSteps, "base"), Options{})
	assert.Equal(t, []bool{true, true, true, true}, hits(out), out)
}

func TestCacheOffAfterMiss(t *testing.T) {
	// After a miss nothing is looked up, even a step whose key the cache
	// holds: here the RUN after a new ENV has the same key as it would
	// after the old one only if the parent were ignored.
	e := newEnv(t)
	_, _ = e.mustBuild("FROM base\nENV A=1\nRUN echo one\nENV B=1\n", Options{})
	_, out := e.mustBuild("FROM base\nENV A=1\nRUN echo two\nENV B=1\n", Options{})
	assert.Equal(t, []bool{true, false, false}, hits(out), out)
}

func TestCacheStaleEntry(t *testing.T) {
	e := newEnv(t)
	id, _ := e.mustBuild("FROM base\nCMD [\"a\"]\n", Options{})
	_, err := e.store.Remove(id.String(), true)
	require.NoError(t, err)
	id2, out := e.mustBuild("FROM base\nCMD [\"a\"]\n", Options{})
	assert.Equal(t, []bool{false}, hits(out), out)
	assert.NotEqual(t, id, id2)
}

func TestNoCache(t *testing.T) {
	e := newEnv(t)
	_, _ = e.mustBuild("FROM base\nRUN apt-get update\n", Options{})
	_, out := e.mustBuild("FROM base\nRUN apt-get update\n", Options{})
	assert.Equal(t, []bool{true}, hits(out))
	assert.Equal(t, 1, e.fake.count(), "RUN apt-get update is never run again")
	_, out = e.mustBuild("FROM base\nRUN apt-get update\n", Options{NoCache: true})
	assert.NotContains(t, out, "Using cache")
	assert.Equal(t, 2, e.fake.count(), "--no-cache runs it")
}

func TestRunBuildArgs(t *testing.T) {
	e := newEnv(t)
	df := "FROM base\nARG A\nARG B=dflt\nRUN echo $A $B\n"
	x := "x"
	id, out := e.mustBuild(df, Options{BuildArgs: map[string]*string{"A": &x}})
	assert.Equal(t, []bool{false, false, false}, hits(out))
	img := e.image(id)
	h := img.History[len(img.History)-1]
	assert.Equal(t, "|2 A=x B=dflt /bin/sh -c echo $A $B", h.CreatedBy)
	assert.Equal(t, "/bin/sh -c #(nop)  ARG A", img.History[len(img.History)-3].CreatedBy)
	assert.Equal(t, "/bin/sh -c #(nop)  ARG B=dflt", img.History[len(img.History)-2].CreatedBy)
	assert.Subset(t, e.fake.last().Env, []string{"A=x", "B=dflt"})
	assert.NotContains(t, img.Config.Env, "A=x", "build args stay out of the image's env")

	// Another value: the ARG steps hit (their text is the Dockerfile's),
	// RUN misses.
	y := "y"
	_, out = e.mustBuild(df, Options{BuildArgs: map[string]*string{"A": &y}})
	assert.Equal(t, []bool{true, true, false}, hits(out), out)
	_, out = e.mustBuild(df, Options{BuildArgs: map[string]*string{"A": &x}})
	assert.Equal(t, []bool{true, true, true}, hits(out), out)

	// No value at all: A has none and is left out; ENV shadows B.
	id, _ = e.mustBuild("FROM base\nARG A\nARG B=dflt\nENV B=env\nRUN echo $A $B\n", Options{})
	img = e.image(id)
	assert.Equal(t, "/bin/sh -c echo $A $B", img.History[len(img.History)-1].CreatedBy)
	assert.Contains(t, e.fake.last().Env, "B=env")
	assert.NotContains(t, e.fake.last().Env, "B=dflt")

	// A predefined proxy variable reaches RUN without being declared, and
	// stays out of the history line.
	p := "http://proxy:3128"
	id, out = e.mustBuild("FROM base\nRUN echo proxy\n", Options{BuildArgs: map[string]*string{"HTTP_PROXY": &p}})
	img = e.image(id)
	assert.Equal(t, "/bin/sh -c echo proxy", img.History[len(img.History)-1].CreatedBy)
	assert.Contains(t, e.fake.last().Env, "HTTP_PROXY="+p)
	assert.NotContains(t, out, "[Warning]")
}

func TestUnusedBuildArgWarning(t *testing.T) {
	e := newEnv(t)
	one, two := "1", "2"
	_, out := e.mustBuild("FROM base\nARG USED\nCMD [\"x\"]\n", Options{BuildArgs: map[string]*string{"USED": &one, "ZED": &two, "FOO": &one}})
	assert.Contains(t, out, "[Warning] One or more build-args [FOO ZED] were not consumed\nSuccessfully built ")
	_, out = e.mustBuild("FROM base\nARG USED\nCMD [\"x\"]\n", Options{BuildArgs: map[string]*string{"USED": &one}})
	assert.NotContains(t, out, "[Warning]")
}

func TestArgBeforeFrom(t *testing.T) {
	e := newEnv(t)
	v2 := e.importImage("base:v2", map[string]string{"etc/v2": "2"})
	df := "ARG TAG=latest\nARG X=meta\nFROM base:${TAG}\nARG X\nRUN echo $X\nFROM base:${TAG} AS two\nRUN echo no-x\n"
	id, out := e.mustBuild(df, Options{Target: ""})
	assert.Contains(t, out, "Step 1/7 : ARG TAG=latest\nStep 2/7 : ARG X=meta\nStep 3/7 : FROM base:${TAG}\n ---> "+short(e.base)+"\n")
	require.Len(t, e.fake.runs, 2)
	assert.Contains(t, e.fake.runs[0].Env, "X=meta", "a redeclared meta ARG takes the meta value")
	assert.NotContains(t, strings.Join(e.fake.runs[1].Env, " "), "X=", "a meta ARG is not seen in a stage that does not declare it")
	img := e.image(id)
	assert.Equal(t, "/bin/sh -c echo no-x", img.History[len(img.History)-1].CreatedBy)

	tag := "v2"
	_, out = e.mustBuild(df, Options{BuildArgs: map[string]*string{"TAG": &tag}})
	assert.Contains(t, out, "FROM base:${TAG}\n ---> "+short(v2)+"\n")
	assert.NotContains(t, out, "[Warning]")
}

func TestMultiStageCopyFrom(t *testing.T) {
	e := newEnv(t)
	df := "FROM base AS build\nRUN write /out/app compiled\nFROM base\nCOPY --from=build /out/app /usr/bin/app\nCOPY --from=0 /out/app /again\n"
	id, out := e.mustBuild(df, Options{})
	got, ok := e.layerFile(id, "usr/bin/app")
	require.True(t, ok, out)
	assert.Equal(t, "compiled", got)
	got, ok = e.layerFile(id, "again")
	require.True(t, ok, out)
	assert.Equal(t, "compiled", got)
	_, ok = e.layerFile(id, "out/app")
	assert.False(t, ok, "the build stage's files stay out")
	img := e.image(id)
	assert.Regexp(t, `^/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in /usr/bin/app $`, img.History[len(img.History)-2].CreatedBy)

	// Rebuilt: all hits. With other content in the build stage, the COPY
	// --from misses though its text is the same.
	_, out = e.mustBuild(df, Options{})
	assert.Equal(t, []bool{true, true, true}, hits(out))
	_, out = e.mustBuild(strings.Replace(df, "compiled", "patched", 1), Options{})
	assert.Equal(t, []bool{false, false, false}, hits(out))
	_, _, err := e.build("FROM base\nCOPY --from=7 /x /x\n", Options{})
	assert.ErrorContains(t, err, "invalid from flag value 7")
}

func TestTarget(t *testing.T) {
	e := newEnv(t)
	df := "FROM base AS a\nRUN echo a\nFROM base AS unused\nRUN echo unused\nFROM base AS b\nRUN echo b\nFROM base AS c\nRUN echo c\n"
	id, out := e.mustBuild(df, Options{Target: "B"})
	assert.Contains(t, out, "Step 1/6 : FROM base AS a\n")
	assert.Contains(t, out, "Step 4/6 : RUN echo unused\n", "every stage up to the target is built, used or not")
	assert.Contains(t, out, "Step 6/6 : RUN echo b\n")
	assert.NotContains(t, out, "echo c")
	assert.Len(t, e.fake.runs, 3)
	assert.Equal(t, "/bin/sh -c echo b", e.image(id).History[len(e.image(id).History)-1].CreatedBy)
	_, _, err := e.build(df, Options{Target: "nope"})
	assert.EqualError(t, err, "failed to reach build target nope in Dockerfile")
}

func TestOnBuild(t *testing.T) {
	e := newEnv(t)
	_, out := e.mustBuild("FROM base\nONBUILD RUN write /trigger fired\nONBUILD ENV T=1\n", Options{Tags: []string{"parent"}})
	assert.Len(t, e.fake.runs, 0, "ONBUILD runs nothing in the image that declares it")
	assert.NotContains(t, out, "# Executing")
	id, out := e.mustBuild("FROM parent\nCMD [\"x\"]\n", Options{})
	assert.Contains(t, out, "Step 1/2 : FROM parent\n# Executing 2 build triggers\n ---> Running in ")
	got, ok := e.layerFile(id, "trigger")
	require.True(t, ok, out)
	assert.Equal(t, "fired", got)
	img := e.image(id)
	assert.Empty(t, img.Config.OnBuild, "triggers fire one level down only")
	assert.Contains(t, img.Config.Env, "T=1")
	// The grandchild fires nothing.
	e.mustBuild("FROM parent\nCMD [\"x\"]\n", Options{Tags: []string{"child"}})
	_, out = e.mustBuild("FROM child\nCMD [\"y\"]\n", Options{})
	assert.NotContains(t, out, "# Executing")
}

// outputLine turns the real IDs in a build's output into placeholders.
var hexID = regexp.MustCompile(`\b[0-9a-f]{12}\b`)

// masked is out with the IDs as ID. (The context is sent as a tar: two
// headers, two bodies of one block each and the end, 3072 bytes.)
func masked(out string) string {
	return hexID.ReplaceAllString(out, "ID")
}

func TestOutputLines(t *testing.T) {
	e := newEnv(t)
	e.file("f", "0123456789")
	df := "FROM base\nENV A=1\nRUN echo hi\nCOPY f /f\nCMD [\"x\"]\n"
	id, out := e.mustBuild(df, Options{Tags: []string{"app", "example.com/team/app:v1"}})
	want := `Sending build context to Docker daemon  3.072kB
Step 1/5 : FROM base
 ---> ID
Step 2/5 : ENV A=1
 ---> ID
Step 3/5 : RUN echo hi
 ---> Running in ID
fake: /bin/sh -c echo hi
Removing intermediate container ID
 ---> ID
Step 4/5 : COPY f /f
 ---> ID
Step 5/5 : CMD ["x"]
 ---> ID
Successfully built ID
Successfully tagged app:latest
Successfully tagged example.com/team/app:v1
`
	assert.Equal(t, want, masked(out))
	assert.Contains(t, out, "Successfully built "+short(id)+"\n")
	assert.Contains(t, out, " ---> "+short(e.base)+"\n")
	img, err := e.store.Resolve("example.com/team/app:v1")
	require.NoError(t, err)
	assert.Equal(t, id, img.ID)

	_, out = e.mustBuild(df, Options{})
	want = `Sending build context to Docker daemon  3.072kB
Step 1/5 : FROM base
 ---> ID
Step 2/5 : ENV A=1
 ---> Using cache
 ---> ID
Step 3/5 : RUN echo hi
 ---> Using cache
 ---> ID
Step 4/5 : COPY f /f
 ---> Using cache
 ---> ID
Step 5/5 : CMD ["x"]
 ---> Using cache
 ---> ID
Successfully built ID
`
	assert.Equal(t, want, masked(out))

	// -q: only the ID.
	id, out = e.mustBuild(df, Options{Quiet: true})
	assert.Equal(t, id.String()+"\n", out)
}

func TestFailingRun(t *testing.T) {
	e := newEnv(t)
	_, out, err := e.build("FROM base\nRUN exit 3\n", Options{Tags: []string{"broken"}})
	var re *RunError
	require.True(t, errors.As(err, &re), "%v", err)
	assert.Equal(t, 3, re.Code)
	assert.EqualError(t, err, "The command '/bin/sh -c exit 3' returned a non-zero code: 3")
	assert.True(t, strings.HasSuffix(out, "Step 2/2 : RUN exit 3\n ---> Running in c00000000001\nfake: /bin/sh -c exit 3\n"), out)
	assert.NotContains(t, out, "Successfully")
	_, err = e.store.Resolve("broken")
	assert.ErrorIs(t, err, engine.ErrImageNotFound, "nothing is tagged")

	// Exec form: the message joins the argv.
	_, _, err = e.build("FROM base\nRUN [\"/bin/sh\", \"-c\", \"exit 7\"]\n", Options{})
	assert.EqualError(t, err, "The command '/bin/sh -c exit 7' returned a non-zero code: 7")
}

func TestWorkdir(t *testing.T) {
	e := newEnv(t)
	id, out := e.mustBuild("FROM base\nWORKDIR /a/b\nWORKDIR c\nWORKDIR /etc\nRUN true\n", Options{})
	img := e.image(id)
	n := len(img.History)
	assert.Equal(t, "/bin/sh -c #(nop) WORKDIR /a/b", img.History[n-4].CreatedBy)
	assert.False(t, img.History[n-4].EmptyLayer, "the new directory is a layer")
	assert.Equal(t, "/bin/sh -c #(nop) WORKDIR /a/b/c", img.History[n-3].CreatedBy)
	assert.False(t, img.History[n-3].EmptyLayer)
	assert.True(t, img.History[n-2].EmptyLayer, "/etc exists: no layer")
	assert.True(t, img.History[n-1].EmptyLayer, "a RUN that changes nothing has no layer")
	assert.Equal(t, "/etc", img.Config.WorkingDir)
	assert.Len(t, img.RootFS.DiffIDs, 3)
	assert.Equal(t, "/etc", e.fake.last().WorkingDir, out)
	p, err := e.store.Layers.Path(img.RootFS.DiffIDs[2])
	require.NoError(t, err)
	assert.DirExists(t, p+"/a/b/c")
}

func TestConfigInstructions(t *testing.T) {
	e := newEnv(t)
	df := `FROM base
LABEL a=1 "b c"="d e"
EXPOSE 80 53/udp 8000-8001
VOLUME /data
USER app
STOPSIGNAL SIGTERM
MAINTAINER someone
HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost || exit 1
SHELL ["/bin/bash", "-c"]
RUN echo bash
ENV X=1
ENTRYPOINT ["/entry"]
CMD ["arg"]
`
	id, out := e.mustBuild(df, Options{Labels: map[string]string{"z": "last", "a": "over"}})
	assert.Contains(t, out, "Step 14/14 : LABEL \"a\"='over' \"z\"='last'\n")
	img := e.image(id)
	c := img.Config
	assert.Equal(t, map[string]string{"a": "over", "b c": "d e", "z": "last"}, c.Labels)
	assert.Equal(t, map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}, c.ExposedPorts)
	assert.Equal(t, map[string]struct{}{"/data": {}}, c.Volumes)
	assert.Equal(t, "app", c.User)
	assert.Equal(t, "SIGTERM", c.StopSignal)
	assert.Equal(t, "someone", img.Author)
	require.NotNil(t, c.Healthcheck)
	assert.Equal(t, []string{"CMD-SHELL", "wget -q localhost || exit 1"}, c.Healthcheck.Test)
	assert.Equal(t, 3, c.Healthcheck.Retries)
	assert.Equal(t, "5s", c.Healthcheck.Interval.String())
	assert.Equal(t, []string{"/bin/bash", "-c"}, c.Shell)
	assert.Equal(t, []string{"/entry"}, c.Entrypoint)
	assert.Equal(t, []string{"arg"}, c.Cmd)
	assert.Equal(t, "app", e.fake.last().User)
	var lines []string
	for _, h := range img.History[1:] {
		lines = append(lines, h.CreatedBy)
	}
	assert.Equal(t, []string{
		"/bin/sh -c #(nop)  LABEL a=1 b c=d e",
		"/bin/sh -c #(nop)  EXPOSE 53/udp 80 8000-8001",
		"/bin/sh -c #(nop)  VOLUME [/data]",
		"/bin/sh -c #(nop)  USER app",
		"/bin/sh -c #(nop)  STOPSIGNAL SIGTERM",
		"/bin/sh -c #(nop)  MAINTAINER someone",
		`/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q localhost || exit 1"] "5s" "0s" "0s" '\x03'}`,
		"/bin/sh -c #(nop)  SHELL [/bin/bash -c]",
		"/bin/bash -c echo bash",
		"/bin/bash -c #(nop)  ENV X=1",
		`/bin/bash -c #(nop)  ENTRYPOINT ["/entry"]`,
		`/bin/bash -c #(nop)  CMD ["arg"]`,
		`/bin/bash -c #(nop)  LABEL a=over z=last`,
	}, lines)
	// The raw config blob holds Docker's extensions for lesson 07.
	rc, _, err := e.store.Blobs().Open(id)
	require.NoError(t, err)
	defer rc.Close()
	buf := new(strings.Builder)
	_, _ = fmt.Fprint(buf, "")
	b := make([]byte, 1<<16)
	n, _ := rc.Read(b)
	assert.Contains(t, string(b[:n]), `"Healthcheck":{"Test":["CMD-SHELL","wget -q localhost || exit 1"],"Interval":5000000000,"Retries":3}`)

	// ENTRYPOINT after CMD in the same stage keeps it; an inherited CMD
	// is reset by a new ENTRYPOINT.
	e.mustBuild("FROM base\nCMD [\"inherited\"]\n", Options{Tags: []string{"withcmd"}})
	id, _ = e.mustBuild("FROM withcmd\nENTRYPOINT [\"/e\"]\n", Options{})
	assert.Nil(t, e.image(id).Config.Cmd)
	id, _ = e.mustBuild("FROM withcmd\nCMD [\"mine\"]\nENTRYPOINT [\"/e\"]\n", Options{})
	assert.Equal(t, []string{"mine"}, e.image(id).Config.Cmd)
}

func TestStepImagesAreChildren(t *testing.T) {
	e := newEnv(t)
	id, _ := e.mustBuild("FROM base\nENV A=1\nCMD [\"x\"]\n", Options{})
	p, err := e.store.Parent(id)
	require.NoError(t, err)
	pp, err := e.store.Parent(p)
	require.NoError(t, err)
	assert.Equal(t, e.base, pp)
	img := e.image(id)
	assert.Len(t, img.History, 3)
	assert.True(t, img.History[2].EmptyLayer)
}

func TestMissingBaseIsPulled(t *testing.T) {
	e := newEnv(t)
	var pulled []string
	e.b.Pull = func(ctx context.Context, ref string) (*engine.Image, error) {
		pulled = append(pulled, ref)
		return e.store.Resolve("base")
	}
	_, out := e.mustBuild("FROM remote/thing:1\nCMD [\"x\"]\n", Options{})
	assert.Equal(t, []string{"remote/thing:1"}, pulled)
	assert.Contains(t, out, " ---> "+short(e.base))
	_, _ = e.mustBuild("FROM base\nCMD [\"x\"]\n", Options{Pull: true})
	assert.Equal(t, []string{"remote/thing:1", "base"}, pulled, "--pull pulls a present image too")
	e.b.Pull = nil
	_, _, err := e.build("FROM remote/thing:1\n", Options{})
	assert.ErrorIs(t, err, engine.ErrImageNotFound)
}

func TestScratchAndEmpty(t *testing.T) {
	e := newEnv(t)
	e.file("f", "x")
	id, _ := e.mustBuild("FROM scratch\nCOPY f /f\nCMD [\"/f\"]\n", Options{})
	img := e.image(id)
	assert.Len(t, img.RootFS.DiffIDs, 1)
	_, _, err := e.build("FROM scratch\n", Options{})
	assert.EqualError(t, err, "No image was generated. Is your Dockerfile empty?")
	_, _, err = e.build("FROM base\nRUN x\n", Options{Tags: []string{"Bad:Tag:x"}})
	assert.ErrorContains(t, err, "-t, --tag")
}

// failingExec fails every run without a process.
type failingExec struct{ *fakeExec }

func (failingExec) Run(ctx context.Context, r RunRequest) (RunResult, error) {
	return RunResult{}, errors.New("no runtime")
}

func TestExecutorErrorAndCancel(t *testing.T) {
	e := newEnv(t)
	e.b.Exec = failingExec{e.fake}
	_, _, err := e.build("FROM base\nRUN echo\n", Options{Tags: []string{"x"}})
	assert.EqualError(t, err, "RUN /bin/sh -c echo: no runtime")
	_, err = e.store.Resolve("x")
	assert.ErrorIs(t, err, engine.ErrImageNotFound)

	e.b.Exec = e.fake
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.file("Dockerfile", "FROM base\nENV A=1\n")
	_, err = e.b.Build(ctx, Options{ContextDir: e.dir})
	assert.ErrorIs(t, err, context.Canceled)

	// Without Snapshots (and an Exec that is none), WORKDIR and COPY say so.
	e.b.Exec = runOnly{}
	_, _, err = e.build("FROM base\nWORKDIR /x\n", Options{})
	assert.EqualError(t, err, "WORKDIR: the builder has no Snapshots to change files with")
}

// runOnly is an Executor that is no Snapshots.
type runOnly struct{}

func (runOnly) Run(ctx context.Context, r RunRequest) (RunResult, error) { return RunResult{}, nil }

func TestFromStageAndCopyFromImage(t *testing.T) {
	e := newEnv(t)
	df := "FROM base AS tools\nSHELL [\"/bin/bash\", \"-c\"]\nENV IN_TOOLS=1\nFROM tools AS final\nRUN echo $IN_TOOLS\nCOPY --from=base /etc/group /copied-group\n"
	id, out := e.mustBuild(df, Options{})
	img := e.image(id)
	assert.Contains(t, img.Config.Env, "IN_TOOLS=1", "FROM a stage starts from its image")
	assert.Equal(t, []string{"/bin/bash", "-c", "echo $IN_TOOLS"}, e.fake.last().Cmd, "and its SHELL")
	assert.Equal(t, "/bin/bash -c echo $IN_TOOLS", img.History[len(img.History)-2].CreatedBy)
	got, ok := e.layerFile(id, "copied-group")
	require.True(t, ok, out)
	assert.Equal(t, "root:x:0:\napp:x:1001:\n", got, "COPY --from an image by name")
	// A name that is no stage and no image.
	_, _, err := e.build("FROM base\nCOPY --from=nowhere /x /x\n", Options{})
	assert.ErrorIs(t, err, engine.ErrImageNotFound)
}

func TestChownByName(t *testing.T) {
	e := newEnv(t)
	e.file("a", "A")
	id, out := e.mustBuild("FROM base\nCOPY --chown=app:app a /a\n", Options{})
	h := e.image(id).History
	assert.Regexp(t, `^/bin/sh -c #\(nop\) COPY --chown=app:app file:[0-9a-f]{64} in /a $`, h[len(h)-1].CreatedBy, out)
	if os.Geteuid() == 0 { // owners are set only by root
		img, err := e.store.Resolve(id.String())
		require.NoError(t, err)
		p, err := e.store.Layers.Path(img.DiffIDs[len(img.DiffIDs)-1])
		require.NoError(t, err)
		fi, err := os.Stat(p + "/a")
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		assert.Equal(t, []uint32{1000, 1001}, []uint32{st.Uid, st.Gid}, "app:app from the image's passwd and group")
	}
	_, _, err := e.build("FROM base\nCOPY --chown=nobody a /a\n", Options{})
	assert.ErrorContains(t, err, `unable to find "nobody": no matching entries in /etc/passwd`)
	owner, err := lookupOwner(e.t.TempDir(), "0:0")
	require.NoError(t, err)
	assert.Equal(t, 0, owner.UID)
}
