package commands

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
	"minibox/07-compose/model"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// info is a container of project p, service svc, number n.
func info(p, svc string, n int, running bool) *engine.Info {
	num := "1"
	if n > 0 {
		num = string(rune('0' + n))
	}
	c := &engine.Container{
		ID:      strings.Repeat(string(rune('a'+n)), 64),
		Name:    p + "-" + svc + "-" + num,
		Created: now.Add(-3 * time.Minute),
		Path:    "httpd",
		Args:    []string{"-f", "-p", "80", "-h", "/www"},
	}
	c.Config.Image = "busybox"
	c.Config.Labels = map[string]string{model.LabelProject: p, model.LabelService: svc, model.LabelNumber: num, model.LabelOneoff: "False"}
	in := &engine.Info{Container: c}
	if running {
		in.State = engine.State{Status: "running", Running: true, StartedAt: now.Add(-5 * time.Second)}
		c.NetworkSettings.Ports = map[string][]engine.PortBinding{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}}}
	} else {
		in.State = engine.State{Status: "exited", ExitCode: 3, FinishedAt: now.Add(-time.Minute), StartedAt: now.Add(-2 * time.Minute)}
	}
	return in
}

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in, kind, body, err string
	}{
		{"", formatTable, defaultPsTable, ""},
		{"table", formatTable, defaultPsTable, ""},
		{"  table  ", formatTable, defaultPsTable, ""},
		{"json", formatJSON, "", ""},
		{"table {{.Name}}\\t{{.State}}", formatTable, "{{.Name}}\t{{.State}}", ""},
		{"{{.Name}} {{.Service}}", formatTemplate, "{{.Name}} {{.Service}}", ""},
		{"{{.Name}}\\n", formatTemplate, "{{.Name}}\n", ""},
		{"{{.Name", "", "", "template parsing error"},
		{"table {{if}}", "", "", "template parsing error"},
		{"{{nosuchfunc .Name}}", "", "", "template parsing error"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			kind, body, err := parseFormat(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.kind, kind)
			assert.Equal(t, tc.body, body)
		})
	}
}

// FuzzParseFormat: any --format is a parsed template or an error, never a
// panic, and a parsed one prints a row without panicking either.
func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{"", "table", "json", "table {{.Name}}\\t{{.Status}}", "{{json .}}", "{{.Label \"a\"}}",
		"{{truncate .Name 3}}", "{{pad .Name -1 -5}}", "{{.Name", "table\t{{.Ports}}", "{{split .Name \"-\"}}"} {
		f.Add(s)
	}
	rows := []psRow{newPsRow(info("p", "web", 1, true), true, now), newPsRow(info("p", "db", 2, false), false, now)}
	f.Fuzz(func(t *testing.T, s string) {
		kind, body, err := parseFormat(s)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		printRows(&buf, kind, body, rows) // a template may fail at run time (an error), never panic
	})
}

func TestPrintRowsTable(t *testing.T) {
	rows := []psRow{newPsRow(info("p", "db", 2, false), true, now), newPsRow(info("p", "web", 1, true), true, now)}
	var buf bytes.Buffer
	require.NoError(t, printRows(&buf, formatTable, defaultPsTable, rows))
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	require.Len(t, lines, 3)
	assert.Regexp(t, `^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS$`, lines[0])
	// The command is cut to 20 characters with an ellipsis, then quoted.
	assert.Regexp(t, `^p-db-2\s+busybox\s+"httpd -f -p 80 -h /…"\s+db\s+3 minutes ago\s+Exited \(3\) About a minute ago\s*$`, lines[1])
	assert.Regexp(t, `^p-web-1\s+busybox\s+"httpd -f -p 80 -h /…"\s+web\s+3 minutes ago\s+Up 5 seconds\s+0.0.0.0:8080->80/tcp$`, lines[2])
	// The columns line up (tabwriter, docker's padding of 3).
	col := func(line, s string) int { return utf8.RuneCountInString(line[:strings.Index(line, s)]) }
	assert.Equal(t, col(lines[0], "SERVICE"), col(lines[2], " web ")+1)
	assert.Equal(t, col(lines[0], "STATUS"), col(lines[1], "Exited"))
}

func TestPrintRowsCustom(t *testing.T) {
	rows := []psRow{newPsRow(info("p", "web", 1, true), false, now)}
	for _, tc := range []struct{ format, want string }{
		{"table {{.Name}}\\t{{.State}}\\t{{.Health}}", "NAME      STATE     HEALTH\np-web-1   running   \n"},
		{"{{.Service}} {{.Label \"com.docker.compose.container-number\"}}", "web 1\n"},
		{"{{.Project}}/{{.ID}}", "p/" + strings.Repeat("b", 64) + "\n"},
		{"table {{.Publishers}}", "PUBLISHERS\n[{0.0.0.0 80 8080 tcp}]\n"},
		{"{{.Ports}}", "0.0.0.0:8080->80/tcp\n"},
		{"{{upper .Service}}", "WEB\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			kind, body, err := parseFormat(tc.format)
			require.NoError(t, err)
			var buf bytes.Buffer
			require.NoError(t, printRows(&buf, kind, body, rows))
			assert.Equal(t, tc.want, buf.String())
		})
	}
}

func TestPrintRowsJSON(t *testing.T) {
	rows := []psRow{newPsRow(info("p", "web", 1, true), true, now), newPsRow(info("p", "db", 2, false), true, now)}
	var buf bytes.Buffer
	require.NoError(t, printRows(&buf, formatJSON, "", rows))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2) // one object per line, as compose v2 prints
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &got))
	assert.Equal(t, "p-web-1", got["Name"])
	assert.Equal(t, "web", got["Service"])
	assert.Equal(t, "p", got["Project"])
	assert.Equal(t, "running", got["State"])
	assert.Equal(t, "Up 5 seconds", got["Status"])
	assert.Equal(t, strings.Repeat("b", 12), got["ID"])
	assert.Equal(t, []any{map[string]any{"URL": "0.0.0.0", "TargetPort": 80.0, "PublishedPort": 8080.0, "Protocol": "tcp"}}, got["Publishers"])
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &got))
	assert.Equal(t, "exited", got["State"])
	assert.Equal(t, 3.0, got["ExitCode"])
	assert.Equal(t, []any{}, got["Publishers"]) // a stopped container publishes nothing
}

func TestStatusWithHealth(t *testing.T) {
	up := engine.State{Status: "running", Running: true, StartedAt: now.Add(-5 * time.Second)}
	for _, tc := range []struct {
		name   string
		health *engine.Health
		st     engine.State
		want   string
	}{
		{"no healthcheck", nil, up, "Up 5 seconds"},
		{"starting", &engine.Health{Status: "starting"}, up, "Up 5 seconds (health: starting)"},
		{"healthy", &engine.Health{Status: "healthy"}, up, "Up 5 seconds (healthy)"},
		{"unhealthy", &engine.Health{Status: "unhealthy", FailingStreak: 3}, up, "Up 5 seconds (unhealthy)"},
		{"exited keeps no health", &engine.Health{Status: "healthy"},
			engine.State{Status: "exited", ExitCode: 1, FinishedAt: now.Add(-2 * time.Second)}, "Exited (1) 2 seconds ago"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st
			st.Health = tc.health
			assert.Equal(t, tc.want, statusWithHealth(st, now))
		})
	}
}

func TestStateOf(t *testing.T) {
	assert.Equal(t, "created", stateOf(engine.State{}))
	assert.Equal(t, "running", stateOf(engine.State{Status: "running", Running: true}))
	assert.Equal(t, "paused", stateOf(engine.State{Status: "running", Running: true, Paused: true}))
	assert.Equal(t, "restarting", stateOf(engine.State{Status: "restarting", Restarting: true}))
	assert.Equal(t, "exited", stateOf(engine.State{Status: "exited"}))
}

func TestParsePsFilter(t *testing.T) {
	st, err := parsePsFilter("status=running")
	require.NoError(t, err)
	assert.Equal(t, "running", st)
	_, err = parsePsFilter("status")
	assert.EqualError(t, err, "arguments to --filter should be in form KEY=VAL")
	_, err = parsePsFilter("name=web")
	assert.EqualError(t, err, "unknown filter name")
}

func TestPublishedPort(t *testing.T) {
	pubs := []Publisher{{URL: "0.0.0.0", TargetPort: 80, PublishedPort: 8080, Protocol: "tcp"}, {URL: "127.0.0.1", TargetPort: 53, PublishedPort: 5353, Protocol: "udp"}}
	got, err := publishedPort(pubs, "p-web-1", 80, "tcp")
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:8080", got)
	got, err = publishedPort(pubs, "p-web-1", 53, "udp")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:5353", got)
	_, err = publishedPort(pubs, "p-web-1", 53, "tcp")
	assert.EqualError(t, err, "no port 53/tcp for container p-web-1: 80/tcp, 53/udp")
	_, err = publishedPort(nil, "p-web-1", 80, "tcp")
	assert.EqualError(t, err, "no port 80/tcp for container p-web-1: ")
}

func TestSplitRef(t *testing.T) {
	for in, want := range map[string][2]string{
		"busybox":                  {"busybox", "latest"},
		"busybox:1.36":             {"busybox", "1.36"},
		"127.0.0.1:5000/app":       {"127.0.0.1:5000/app", "latest"},
		"127.0.0.1:5000/app:v2":    {"127.0.0.1:5000/app", "v2"},
		"finale-api":               {"finale-api", "latest"},
		"busybox@sha256:0123abcd":  {"busybox", "latest"},
		"reg:5000/a/b:t@sha256:00": {"reg:5000/a/b", "t"},
	} {
		repo, tag := splitRef(in)
		assert.Equal(t, want, [2]string{repo, tag}, in)
	}
}

func TestPrintTop(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, printTop(&buf, nil))
	assert.Empty(t, buf.String(), "no processes: nothing, not even the header")
	require.NoError(t, printTop(&buf, []topRow{
		{Service: "db", Number: "1", UID: "0", PID: 4242, PPID: 4200, CMD: "httpd -f -p 5432"},
		{Service: "web", Number: "1", UID: "0", PID: 77, PPID: 70, CMD: "sh"},
	}))
	// compose's tabwriter: minimum width 4, padding 2.
	assert.Equal(t, "SERVICE  #   UID  PID   PPID  CMD\n"+
		"db       1   0    4242  4200  httpd -f -p 5432\n"+
		"web      1   0    77    70    sh\n", buf.String())
}

func TestPrintImages(t *testing.T) {
	rows := []imageRow{
		{Container: "p-api-1", Repository: "p-api", Tag: "latest", Platform: "linux/amd64", ID: strings.Repeat("c", 64), Size: 1234567, Created: "2 minutes ago"},
		{Container: "p-db-1", Repository: "busybox", Tag: "latest", Platform: "linux/amd64", ID: strings.Repeat("d", 64), Size: 999, Created: "N/A"},
		{Container: "p-web-1", Repository: "busybox", Tag: "latest", Platform: "linux/amd64", ID: strings.Repeat("d", 64), Size: 999, Created: "N/A"},
	}
	var buf bytes.Buffer
	require.NoError(t, printImages(&buf, rows, false, "table"))
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^CONTAINER\s+REPOSITORY\s+TAG\s+PLATFORM\s+IMAGE ID\s+SIZE\s+CREATED$`, lines[0])
	assert.Regexp(t, `^p-api-1\s+p-api\s+latest\s+linux/amd64\s+cccccccccccc\s+1.23MB\s+2 minutes ago$`, lines[1])
	assert.Regexp(t, `^p-db-1\s+busybox\s+latest\s+linux/amd64\s+dddddddddddd\s+999B\s+N/A$`, lines[2])
	buf.Reset()
	require.NoError(t, printImages(&buf, rows, true, "table"))
	assert.Equal(t, strings.Repeat("c", 64)+"\n"+strings.Repeat("d", 64)+"\n", buf.String(), "-q: each image once")
	buf.Reset()
	require.NoError(t, printImages(&buf, rows[:1], false, "json"))
	assert.JSONEq(t, `[{"ID":"sha256:`+strings.Repeat("c", 64)+`","ContainerName":"p-api-1","Repository":"p-api","Tag":"latest","Platform":"linux/amd64","Size":1234567}]`, buf.String())
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 1234567: "1.23MB", 4_260_000: "4.26MB", 2_000_000_000: "2GB"} {
		assert.Equal(t, want, humanSize(n), n)
	}
}
