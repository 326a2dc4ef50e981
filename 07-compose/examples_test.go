package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The lecture's example_02 and example 03: one web server built from the
// example's directory, a directory of the host mounted where the server
// keeps its pages, port 8080 published. `up --build -d`, a page from the
// host, the page changed on the host and served changed, the legacy
// `version:` only a warning, and `down` leaves nothing.
func TestLectureWebServers(t *testing.T) {
	for _, tc := range []struct{ example, service, image, pages string }{
		{"example_02", "apache", "example-httpd:2.4", "htdocs"},
		{"example_03", "nginx", "example-nginx:1.13", "html"},
	} {
		t.Run(tc.example, func(t *testing.T) {
			b := newCbox(t, tc.example)
			r := b.compose("up", "--build", "-d")
			require.Equal(t, 0, r.Code, "up:\n%s%s", r.Stdout, r.Stderr)
			assert.Contains(t, r.Stderr, "`version` is obsolete", "the legacy key is accepted with compose's note")

			body := b.get("http://127.0.0.1:8080/")
			assert.Contains(t, body, tc.example+": a page from the host directory ./"+tc.pages)
			// A bind mount: the host's change is what the server serves.
			require.NoError(t, os.WriteFile(filepath.Join(b.dir, tc.pages, "index.html"), []byte("changed on the host\n"), 0o644))
			assert.Equal(t, "changed on the host\n", b.get("http://127.0.0.1:8080/"))

			ps := b.composeOK("ps")
			assert.Regexp(t, `(?m)^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS`, ps)
			assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(b.name(tc.service))+`\s+`+regexp.QuoteMeta(tc.image)+`\s`, ps)
			assert.Contains(t, ps, "0.0.0.0:8080->80/tcp")
			assert.Equal(t, b.project, b.inspect(`{{index .Config.Labels "com.docker.compose.project"}}`, b.name(tc.service)))
			assert.Equal(t, tc.service, b.inspect(`{{index .Config.Labels "com.docker.compose.service"}}`, b.name(tc.service)))

			out := b.composeOK("down")
			assert.Contains(t, out, b.name(tc.service))
			assert.Empty(t, b.ok("ps", "-aq"), "down removes the container")
			assert.False(t, b.list("network")[b.project+"_default"], "down removes the network")
			b.noneOfOurs()
			_, _, err := b.getOnce("http://127.0.0.1:8080/")
			assert.Error(t, err, "nothing listens after down")
		})
	}
}

// The lecture's three-service file: two services built (their images
// named after ${USERNAME}), one from busybox with two named volumes (short
// and long form), all on the network "reddit". A request from the host
// goes ui → post → post_db by service names. A second `up` changes
// nothing; a change to one service recreates that one only; `down` keeps
// the named volumes, `down -v` removes them.
func TestReddit(t *testing.T) {
	b := newCbox(t, "reddit")
	user := randomName("u")

	// Without USERNAME in the environment, .env's.
	assert.Contains(t, b.composeOK("config"), "image: student/ui:1.0")
	b.env = []string{"USERNAME=" + user}
	assert.Contains(t, b.composeOK("config"), "image: "+user+"/ui:1.0", "the environment wins over .env")

	b.composeOK("up", "--build", "-d")
	for _, img := range []string{user + "/ui:1.0", user + "/post:1.0"} {
		assert.NotEmpty(t, b.ok("images", "-q", img), "built and named %s", img)
	}
	page := b.get("http://127.0.0.1:9292/")
	assert.Contains(t, page, "<h1>Microblog</h1>")
	assert.Contains(t, page, "first post: hello from post_db", "ui asked post, post asked post_db")

	assert.Len(t, b.ids(), 3)
	ps := b.composeOK("ps")
	for _, s := range []string{"ui", "post", "post_db"} {
		assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(b.name(s))+`\s.*\sUp `, ps)
	}
	assert.True(t, b.list("network")[b.project+"_reddit"], "the network is PROJECT_reddit")
	vols := b.list("volume")
	assert.True(t, vols[b.project+"_post_db"] && vols[b.project+"_sample_vol"], "volumes %v", vols)
	assert.Equal(t, "post_db", b.inspect(`{{index .Config.Labels "com.docker.compose.service"}}`, b.name("post_db")))

	// Up again: nothing to do, the same containers.
	before := map[string]string{}
	for _, s := range []string{"ui", "post", "post_db"} {
		before[s] = b.idOf(b.name(s))
	}
	b.composeOK("up", "-d")
	for s, id := range before {
		assert.Equal(t, id, b.idOf(b.name(s)), "%s kept by a second up", s)
	}

	// A change to post recreates post, and only post.
	b.edit("docker-compose.yml", "    image: ${USERNAME}/post:1.0\n", "    image: ${USERNAME}/post:1.0\n    environment:\n      CHANGED: \"1\"\n")
	b.composeOK("up", "-d")
	assert.NotEqual(t, before["post"], b.idOf(b.name("post")), "post recreated")
	assert.Equal(t, before["ui"], b.idOf(b.name("ui")), "ui kept")
	assert.Equal(t, before["post_db"], b.idOf(b.name("post_db")), "post_db kept")
	assert.Contains(t, b.ok("exec", b.name("post"), "env"), "CHANGED=1")
	assert.Contains(t, b.get("http://127.0.0.1:9292/"), "first post: hello from post_db", "the recreated post on the network by its name")

	b.composeOK("down")
	assert.Empty(t, b.ok("ps", "-aq"))
	assert.False(t, b.list("network")[b.project+"_reddit"])
	vols = b.list("volume")
	assert.True(t, vols[b.project+"_post_db"] && vols[b.project+"_sample_vol"], "down keeps the named volumes: %v", vols)
	b.noneOfOurs()
	b.composeOK("down", "-v")
	vols = b.list("volume")
	assert.False(t, vols[b.project+"_post_db"] || vols[b.project+"_sample_vol"], "down -v removes them: %v", vols)
}

// The lecture's example 06: the database built, with its container_name,
// restart: unless-stopped, environment, the folded `command: >`, a named
// volume and a user network; the app gated on the database's health (its
// image's HEALTHCHECK). The app connects once and exits: it succeeds only
// if it started after the database took connections. The database comes
// back after a crash, stays down after a stop, and its volume outlives
// `down` but not `down -v`.
func TestExample06(t *testing.T) {
	b := newCbox(t, "example_06")
	b.composeOK("up", "--build", "-d")
	assert.Equal(t, "healthy", b.health("db-node-1"), "up returns once the gated dependency is healthy")
	assert.Equal(t, b.project, b.inspect(`{{index .Config.Labels "com.docker.compose.project"}}`, "db-node-1"))

	b.waitFor("sql_test_main to exit", func() bool {
		return b.inspect("{{.State.Status}}", "sql_test_main") == "exited"
	})
	require.Equal(t, "0", b.inspect("{{.State.ExitCode}}", "sql_test_main"),
		"sql_test failed: it started before the database took connections?\n%s", b.composeOK("logs", "--no-color"))
	logs := b.composeOK("logs", "--no-color")
	assert.Regexp(t, `(?m)^sql_test_main\s*\| Query OK, 1 row affected$`, logs)
	assert.Regexp(t, `(?m)^sql_test_main\s*\| hello from sql_test$`, logs)
	assert.Regexp(t, `(?m)^db-node-1\s*\| mysqld: options: --sql-mode=STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION --general-log=ON --log-queries-not-using-indexes=ON$`, logs,
		"the folded command split as a shell would, quotes removed")
	assert.Contains(t, logs, "mysqld: user test, database sql_test")
	assert.Contains(t, b.ok("ps"), "0.0.0.0:3306->3306/tcp")

	// The host reaches the database on its published port.
	assert.Contains(t, b.get("http://127.0.0.1:3306/cgi-bin/query?insert=from%20the%20host"), "Query OK")
	assert.Equal(t, "hello from sql_test\nfrom the host\n", b.get("http://127.0.0.1:3306/cgi-bin/query?select"))

	// restart: unless-stopped brings it back after a crash...
	b.crash("db-node-1")
	b.waitFor("db-node-1 restarted and healthy", func() bool {
		return b.inspect("{{.RestartCount}}", "db-node-1") != "0" && b.health("db-node-1") == "healthy"
	})
	assert.Equal(t, "hello from sql_test\nfrom the host\n", b.get("http://127.0.0.1:3306/cgi-bin/query?select"))
	// ...and not after a stop.
	b.composeOK("stop", "db-node-1")
	time.Sleep(1500 * time.Millisecond)
	assert.Equal(t, "exited", b.inspect("{{.State.Status}}", "db-node-1"), "a stopped unless-stopped container stays stopped")
	b.composeOK("start", "db-node-1")
	b.waitFor("db-node-1 healthy again", func() bool { return b.health("db-node-1") == "healthy" })

	// The volume outlives down: the rows are there after a new up (sql_test
	// runs again and adds its row).
	b.composeOK("down")
	assert.True(t, b.list("volume")[b.project+"_db-node-1-data"], "down keeps the named volume")
	b.composeOK("up", "-d")
	b.waitFor("sql_test_main to exit again", func() bool {
		return b.inspect("{{.State.Status}}", "sql_test_main") == "exited"
	})
	assert.Equal(t, "hello from sql_test\nfrom the host\nhello from sql_test\n", b.get("http://127.0.0.1:3306/cgi-bin/query?select"))
	// down -v: the data go.
	b.composeOK("down", "-v")
	assert.False(t, b.list("volume")[b.project+"_db-node-1-data"], "down -v removes the named volume")
	b.composeOK("up", "-d")
	b.waitFor("sql_test_main to exit a third time", func() bool {
		return b.inspect("{{.State.Status}}", "sql_test_main") == "exited"
	})
	assert.Equal(t, "hello from sql_test\n", b.get("http://127.0.0.1:3306/cgi-bin/query?select"), "a fresh volume")
}

// The devcontainer shape: devcontainer.json names the compose file (its
// path relative to .devcontainer), the service and the workspace folder.
// As an editor does, bring that file up from the project folder; the
// folder is mounted at workspaceFolder, the image's WORKDIR, and a server
// started in the container is reached from the host on the published port.
func TestDevcontainer(t *testing.T) {
	b := newCbox(t, "devcontainer")
	raw, err := os.ReadFile(filepath.Join(b.dir, ".devcontainer", "devcontainer.json"))
	require.NoError(t, err)
	var dc struct {
		Name, DockerComposeFile, Service, WorkspaceFolder string
	}
	require.NoError(t, json.Unmarshal(raw, &dc))
	require.Equal(t, "app", dc.Service)
	file := filepath.Join(".devcontainer", dc.DockerComposeFile)

	b.composeOK("-f", file, "up", "--build", "-d")
	ctr := b.name(dc.Service)
	assert.Equal(t, dc.WorkspaceFolder, b.composeOut("-f", file, "exec", "-T", dc.Service, "pwd"))
	assert.Equal(t, "hello from the workspace folder", b.composeOut("-f", file, "exec", "-T", dc.Service, "cat", "hello.txt"))
	// The folder itself, not a copy: what the container writes, the host sees.
	b.composeOK("-f", file, "exec", "-T", dc.Service, "sh", "-c", "echo written in the container > made.txt")
	made, err := os.ReadFile(filepath.Join(b.dir, "made.txt"))
	require.NoError(t, err)
	assert.Equal(t, "written in the container\n", string(made))
	// The image was built with context .. (the project folder).
	assert.Equal(t, "/workspace", b.inspect("{{.Config.WorkingDir}}", ctr))
	assert.True(t, b.list("network")[b.project+"_my_network"])

	// busybox httpd without -f goes to the background: exec returns.
	b.composeOK("-f", file, "exec", "-T", dc.Service, "httpd", "-p", "8000", "-h", dc.WorkspaceFolder)
	assert.Equal(t, "hello from the workspace folder\n", b.get("http://127.0.0.1:8000/hello.txt"))

	b.composeOK("-f", file, "down")
	assert.Empty(t, b.ok("ps", "-aq"))
	b.noneOfOurs()
}

// The course's finale: three services, one built, one gated on another's
// health, reached from the host. api starts only once db is healthy (db
// needs two seconds); web serves the page that asks api, which asks db.
// api comes back after a crash (unless-stopped); the volume holds db's
// messages across `down` and loses them with `down -v`.
func TestFinale(t *testing.T) {
	b := newCbox(t, "finale")
	out := b.composeOK("up", "-d", "--build")
	for _, s := range []string{"db", "api", "web"} {
		assert.Contains(t, out, b.name(s))
	}
	assert.Equal(t, "healthy", b.health(b.name("db")))
	dbStarted, err := time.Parse(time.RFC3339Nano, b.inspect("{{.State.StartedAt}}", b.name("db")))
	require.NoError(t, err)
	apiStarted, err := time.Parse(time.RFC3339Nano, b.inspect("{{.State.StartedAt}}", b.name("api")))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, apiStarted.Sub(dbStarted), 2*time.Second, "api waited for db's health (db answers after 2 s)")

	assert.Contains(t, b.get("http://127.0.0.1:8080/"), "minibox's finale")
	page := b.get("http://127.0.0.1:8080/cgi-bin/messages")
	assert.Contains(t, page, "the first message, from db's volume")
	assert.Contains(t, page, "(served by api on ", "web asked api, api asked db")
	assert.Len(t, b.ids(), 3)
	assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(b.name("db"))+`\s.*\(healthy\)`, b.composeOK("ps"))
	logs := b.composeOK("logs", "--no-color", "db")
	assert.Regexp(t, `(?m)^db-1\s*\| db: ready$`, logs)
	assert.NotContains(t, logs, "api-1", "logs SERVICE: that service's only")
	tail := b.composeOut("logs", "--no-color", "--tail", "1", "db")
	assert.Regexp(t, `^db-1\s*\| db: ready$`, tail)

	// Idempotent up; a change to api recreates api alone.
	ids := map[string]string{}
	for _, s := range []string{"db", "api", "web"} {
		ids[s] = b.idOf(b.name(s))
	}
	b.composeOK("up", "-d")
	for s, id := range ids {
		assert.Equal(t, id, b.idOf(b.name(s)), "%s kept by a second up", s)
	}
	b.edit("compose.yaml", "      DB_URL: http://db:5432\n", "      DB_URL: http://db:5432\n      GREETING: hello\n")
	b.composeOK("up", "-d")
	assert.NotEqual(t, ids["api"], b.idOf(b.name("api")), "api recreated")
	assert.Equal(t, ids["db"], b.idOf(b.name("db")), "db kept")
	assert.Equal(t, ids["web"], b.idOf(b.name("web")), "web kept")
	assert.Contains(t, b.get("http://127.0.0.1:8080/cgi-bin/messages"), "the first message")

	// restart: unless-stopped: api comes back after a crash.
	b.crash(b.name("api"))
	b.waitFor("api restarted", func() bool {
		return b.inspect("{{.RestartCount}}", b.name("api")) != "0" && b.inspect("{{.State.Status}}", b.name("api")) == "running"
	})
	assert.Contains(t, b.get("http://127.0.0.1:8080/cgi-bin/messages"), "the first message")

	// The named volume: a message added survives down and up...
	b.composeOK("exec", "-T", "db", "sh", "-c", "echo a second message >>/data/messages")
	b.composeOK("down")
	assert.Empty(t, b.ok("ps", "-aq"))
	assert.True(t, b.list("volume")[b.project+"_data"])
	b.noneOfOurs()
	b.composeOK("up", "-d")
	assert.Contains(t, b.get("http://127.0.0.1:8080/cgi-bin/messages"), "a second message")
	// ...and not down -v.
	b.composeOK("down", "-v")
	assert.False(t, b.list("volume")[b.project+"_data"])
	b.composeOK("up", "-d")
	page = b.get("http://127.0.0.1:8080/cgi-bin/messages")
	assert.Contains(t, page, "the first message")
	assert.NotContains(t, page, "a second message")
	b.composeOK("down", "-v")
	assert.Empty(t, b.ok("ps", "-aq"))
	assert.Empty(t, b.list("volume"))
	b.noneOfOurs()
}

// What a user sees when the file is wrong: no file, a cycle, a broken
// line, a missing service; nothing is created.
func TestComposeErrors(t *testing.T) {
	b := newCbox(t, "finale")
	empty := t.TempDir()
	r := b.runIn(empty, "compose", "up", "-d")
	assert.NotEqual(t, 0, r.Code)
	assert.Contains(t, r.Stderr, "no configuration file provided: not found")

	cyc := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(cyc, "compose.yaml"), []byte(
		"services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n"), 0o644))
	r = b.runIn(cyc, "compose", "-p", b.project, "up", "-d")
	assert.NotEqual(t, 0, r.Code)
	assert.Regexp(t, `cycle.*(a -> b -> a|b -> a -> b)`, r.Stderr)

	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "compose.yaml"), []byte(
		"services:\n  a:\n    image: busybox\n   command: broken\n"), 0o644))
	r = b.runIn(bad, "compose", "-p", b.project, "up", "-d")
	assert.NotEqual(t, 0, r.Code)
	assert.Regexp(t, `compose\.yaml: yaml: .*line [0-9]+`, r.Stderr, "the file and the line")

	r = b.compose("up", "-d", "nosuch")
	assert.NotEqual(t, 0, r.Code)
	assert.Contains(t, r.Stderr, "no such service: nosuch")

	assert.Empty(t, b.ok("ps", "-aq"), "nothing created")
	assert.Empty(t, b.list("network", "-f", "type=custom"))
}
