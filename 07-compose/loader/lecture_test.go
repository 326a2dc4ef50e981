package loader

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/07-compose/model"
)

// The lecture's compose files, as the slides print them, read as docker
// compose reads them.

func TestLectureExample02(t *testing.T) {
	dir := project(t, map[string]string{"docker-compose.yml": `version: '3'
services:
  apache:
    image: httpd:2.4
    ports:
      - 8080:80
    volumes:
      - /my_path:/usr/local/apache2/htdocs
`})
	p := load(t, dir)
	require.Len(t, p.Warnings, 1)
	assert.Contains(t, p.Warnings[0], "the attribute `version` is obsolete")
	s := service(t, p, "apache")
	assert.Equal(t, "httpd:2.4", s.Image)
	assert.Equal(t, []model.Port{{Published: "8080", Target: "80", Protocol: "tcp"}}, s.Ports)
	assert.Equal(t, []model.Mount{{Type: "bind", Source: "/my_path", Target: "/usr/local/apache2/htdocs", CreateHostPath: true}}, s.Volumes)
	assert.Equal(t, "app-apache-1", p.ContainerName(&s, 1))
	assert.Equal(t, map[string]model.Network{"default": {Name: "app_default", Driver: "bridge"}}, p.Networks)
}

func TestLectureThreeServices(t *testing.T) {
	const file = `version: '3.3'
services:
  post_db:
    image:     mongo:3.2
    volumes:
      - type: volume
        source: sample_vol
        target: /data/sample

      - post_db:/data/db
    networks:
      - reddit
  ui:
    build:     ./ui
    image:     ${USERNAME}/ui:1.0
    ports:
      - 9292:9292/tcp
    networks:
      - reddit
  post:
    build:     ./post-py
    image:     ${USERNAME}/post:1.0
    networks:
      - reddit
volumes:
  post_db:
  sample_vol:
networks:
  reddit:
`
	dir := project(t, map[string]string{"docker-compose.yml": file})
	p := load(t, dir, "USERNAME=student")
	ui := service(t, p, "ui")
	assert.Equal(t, "student/ui:1.0", ui.Image, "image: names what build: makes")
	assert.Equal(t, filepath.Join(dir, "ui"), ui.Build.Context)
	assert.Equal(t, []model.Port{{Published: "9292", Target: "9292", Protocol: "tcp"}}, ui.Ports)
	assert.Equal(t, []string{"reddit"}, ui.NetworkNames())
	db := service(t, p, "post_db")
	assert.Equal(t, []model.Mount{
		{Type: "volume", Source: "sample_vol", Target: "/data/sample"},
		{Type: "volume", Source: "post_db", Target: "/data/db"},
	}, db.Volumes, "the long and the short notation")
	assert.Equal(t, map[string]model.Volume{
		"post_db":    {Name: "app_post_db", Driver: "local"},
		"sample_vol": {Name: "app_sample_vol", Driver: "local"},
	}, p.Volumes)
	assert.Equal(t, map[string]model.Network{"reddit": {Name: "app_reddit", Driver: "bridge"}}, p.Networks, "no service is on default: it is not made")

	// without USERNAME compose warns and goes on with "" (the image
	// "/ui:1.0" then fails to build or pull)
	p = load(t, dir)
	assert.Equal(t, "/ui:1.0", service(t, p, "ui").Image)
	assert.Contains(t, p.Warnings, `The "USERNAME" variable is not set. Defaulting to a blank string.`)
}

const example06 = `version: '3'

services:
  db-node-1:
    build:
      context: mysql
    dockerfile: Dockerfile
    container_name: db-node-1
    restart: unless-stopped
    environment:
      MYSQL_DATABASE: sql_test
      MYSQL_USER: test
      MYSQL_PASSWORD: pzjqUkMnc7vfNHET
      MYSQL_ROOT_PASSWORD: '1'
    command: >
      --sql-mode='STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION'
      --general-log=ON
      --log-queries-not-using-indexes=ON
    networks:
      - my_network
    ports:
      - 3306:3306
    volumes:
      - db-node-1-data:/var/lib/mysql

  sql_test:
    container_name: sql_test_main
    image: ddzuba/sql_test
    command: ./sql_test db-node-1
    networks:
      - my_network
    depends_on:
      - "db-node-1"

volumes:
  db-node-1-data:

networks:
  my_network:
    driver: bridge
`

func TestLectureExample06(t *testing.T) {
	// The slide's dockerfile: sits one level too far out, beside build:
	// instead of inside it. docker compose v2 refuses that file, and so
	// does the loader, naming the line.
	dir := project(t, map[string]string{"docker-compose.yml": example06})
	_, err := Load(context.Background(), Options{WorkingDir: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "docker-compose.yml: line 7: services.db-node-1 additional properties 'dockerfile' not allowed")

	fixed := strings.Replace(example06, "      context: mysql\n    dockerfile: Dockerfile\n", "      context: mysql\n      dockerfile: Dockerfile\n", 1)
	dir = project(t, map[string]string{"docker-compose.yml": fixed})
	p := load(t, dir)
	db := service(t, p, "db-node-1")
	assert.Equal(t, &model.Build{Context: filepath.Join(dir, "mysql"), Dockerfile: "Dockerfile"}, db.Build)
	assert.Equal(t, "app-db-node-1", db.Image)
	assert.Equal(t, "db-node-1", db.ContainerName)
	assert.Equal(t, "db-node-1", p.ContainerName(&db, 1))
	assert.Equal(t, "unless-stopped", db.Restart)
	assert.Equal(t, []string{"MYSQL_DATABASE=sql_test", "MYSQL_PASSWORD=pzjqUkMnc7vfNHET", "MYSQL_ROOT_PASSWORD=1", "MYSQL_USER=test"}, db.Environment)
	assert.Equal(t, []string{
		"--sql-mode=STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION",
		"--general-log=ON",
		"--log-queries-not-using-indexes=ON",
	}, db.Command, "the folded command: split as a shell would, quotes removed")
	assert.Equal(t, []model.Mount{{Type: "volume", Source: "db-node-1-data", Target: "/var/lib/mysql"}}, db.Volumes)
	app := service(t, p, "sql_test")
	assert.Equal(t, []string{"./sql_test", "db-node-1"}, app.Command)
	assert.Equal(t, map[string]model.Dependency{"db-node-1": {Condition: "service_started", Required: true}}, app.DependsOn)
	assert.Equal(t, map[string]model.Network{"my_network": {Name: "app_my_network", Driver: "bridge"}}, p.Networks)
	assert.Equal(t, map[string]model.Volume{"db-node-1-data": {Name: "app_db-node-1-data", Driver: "local"}}, p.Volumes)
}

func TestLectureDevcontainer(t *testing.T) {
	dir := project(t, map[string]string{".devcontainer/docker-compose.yml": `services:
  app:
    build:
      context: ..
      dockerfile: .devcontainer/Dockerfile
    networks:
      - my_network
    volumes:
      - ../workspace
    ports:
      - "8000:8000"

networks:
  my_network:
`})
	p, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, ".devcontainer", "docker-compose.yml")}})
	require.NoError(t, err)
	assert.Equal(t, "devcontainer", p.Name, "the directory .devcontainer, normalised")
	app := service(t, p, "app")
	assert.Equal(t, &model.Build{Context: dir, Dockerfile: ".devcontainer/Dockerfile"}, app.Build, "context relative to the file's directory")
	// "../workspace" without a colon is an anonymous volume whose target is
	// a relative path: compose-go lets it through, the engine refuses it at
	// create (as Docker's does: "mount path must be absolute").
	assert.Equal(t, []model.Mount{{Type: "volume", Target: "../workspace"}}, app.Volumes)
}
