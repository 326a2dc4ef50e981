# minibox — the everyday commands. Most need root: run them as root, or with
# sudo. What a target run as root writes into the checkout (bin/,
# grade-report.json, a handout) is given back to the checkout's owner.
# The README's two commands (./setup.sh and ./setup.sh test) wrap these and
# also install what a fresh machine lacks.

GO ?= go
export CGO_ENABLED ?= 0
LESSONS := $(patsubst %/main.go,%,$(wildcard [0-9][0-9]-*/main.go))
# The newest lesson with its chapter written (as setup.sh picks it).
NEWEST := $(lastword $(patsubst %/README.md,%,$(wildcard $(addsuffix /README.md,$(LESSONS)))))
# GIVE_BACK PATH...: as root in a user's checkout, hand PATH back to the user.
GIVE_BACK = [ "$$(id -u)" != 0 ] || chown -R --reference=.
# The Go files: git's list, or every file where git cannot tell (a tarball;
# root in a user's checkout before setup.sh trusted it).
GOFILES = $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './handout/*')

.PHONY: all build demo doctor test vet fmt bench
all: build

build: ## build every lesson's program and the complete tool (bin/minibox) into bin/
	@mkdir -p bin
	@for l in $(LESSONS); do echo "go build -o bin/$$l ./$$l"; $(GO) build -o bin/$$l ./$$l || exit 1; done
	@echo "go build -o bin/minibox ./cmd/minibox"; $(GO) build -o bin/minibox ./cmd/minibox
	@$(GIVE_BACK) bin

demo: build ## run the newest lesson's demo
	bin/$(NEWEST) demo

doctor: build ## check this machine
	bin/$(NEWEST) doctor

test: ## the whole test suite, as root, with skips turned into failures
	MINIBOX_REQUIRE_ROOT=1 ./setup.sh test

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $(GOFILES)

bench: ## start-time benchmarks, each against its reference tool in the same run
	bench/01-namespaces.sh
	bench/02-cgroups.sh
	bench/03-rootfs.sh
	bench/04-storage.sh

include labs/labs.mk
include vm/vm.mk
