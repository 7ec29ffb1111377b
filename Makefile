# The service's developer commands. `make` alone lists them.
# Needs only Docker (with Compose v2) and GNU Make.

.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
MAKEFLAGS += --no-print-directory

# .env (optional, git-ignored) overrides the defaults below; so does the
# command line, e.g. `make up API_PORT=5050`.
-include .env

# NAME is the service's name, set here and nowhere else: the compose
# projects, the images and the Go cache volumes below derive from it (the
# service names itself after its module path). make rename sets it.
NAME          ?= twitter-api
API_PORT      ?= 5000
DB_PORT       ?= 5432
# Delve's port under `make debug`, on 127.0.0.1 like the others.
DEBUG_PORT    ?= 2345
POSTGRES_USER ?= twitter
POSTGRES_DB   ?= twitter
IMAGE         ?= $(PROJECT):latest
# FUZZTIME: how long make fuzz runs.
FUZZTIME      ?= 30s
# The API's admin port (/metrics, /debug/pprof/) and Jaeger's UI and OTLP
# receiver, on 127.0.0.1.
ADMIN_PORT       ?= 9090
JAEGER_UI_PORT   ?= 16686
JAEGER_OTLP_PORT ?= 4318
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Containers run as you, so files they write into the tree are yours.
HOST_UID      ?= $(shell id -u)
HOST_GID      ?= $(shell id -g)
# Compose project names; CI uses its own so it never touches your stack.
# Every name below derives from it, so a second clone with another PROJECT
# shares nothing with the first, and make clean-all removes only its own.
PROJECT       ?= $(NAME)
# The images this project's stacks build (IMAGE, above, is the release image).
DEV_IMAGE     ?= $(PROJECT)-dev
TEST_IMAGE    ?= $(PROJECT)-test
VULN_IMAGE    ?= $(PROJECT)-vuln
NEWMAN_IMAGE  ?= $(PROJECT)-newman
# The Go module and build caches outlive every stack: warm rebuilds after
# make down, make clean, or a test run. One pair per project and uid (their
# files are whoever filled them), shared by its dev and test stacks.
GOMOD_VOLUME   := $(PROJECT)-gomod-$(HOST_UID)
GOCACHE_VOLUME := $(PROJECT)-gocache-$(HOST_UID)
export NAME API_PORT DB_PORT DEBUG_PORT HOST_UID HOST_GID IMAGE VERSION PROJECT \
	ADMIN_PORT JAEGER_UI_PORT JAEGER_OTLP_PORT DEV_IMAGE TEST_IMAGE VULN_IMAGE NEWMAN_IMAGE \
	GOMOD_VOLUME GOCACHE_VOLUME

DEV  := docker compose -p $(PROJECT) -f compose.dev.yml
# The dev stack with the API under Delve (compose.debug.yml changes only api).
DEBUG := $(DEV) -f compose.debug.yml
TEST := docker compose -p $(PROJECT)-test -f compose.test.yml
# One-off commands in the dev image, without starting the stack.
TOOL := $(DEV) run --rm --no-deps -T migrate

# Creating the cache volumes is idempotent.
CACHE_VOLUMES := $(GOMOD_VOLUME) $(GOCACHE_VOLUME)
define ensure-volumes
	@for v in $(CACHE_VOLUMES); do docker volume inspect $$v >/dev/null 2>&1 || docker volume create $$v >/dev/null; done
endef

# Compose would recreate a stack of the same PROJECT started from another
# checkout with this one's bind mount; refuse instead, naming the other one.
define ensure-own-stack
	@other=$$(docker ps --all --filter label=com.docker.compose.project=$(PROJECT) \
		--format '{{.Label "com.docker.compose.project.working_dir"}}' | grep -vxF '$(CURDIR)' | head -n 1 || true); \
	if [ -n "$$other" ]; then echo "make: the stack $(PROJECT) was started from $$other; make down there, or set another PROJECT (and ports) in .env here" >&2; exit 1; fi
endef

# make help lists these first, in this order: a working day's targets (at
# most 15; README.md's table lists the same). The rest follow by topic.
DAILY := dev up down logs test test-race lint check docs psql seed migration migrate debug clean

##@ The stack and the suites

.PHONY: help
help: ## List the targets (this text): the daily ones, then the rest by topic
	@awk -v daily="$(DAILY)" 'BEGIN {FS = ":.*## "; n = split(daily, order, " "); for (i = 1; i <= n; i++) isdaily[order[i]] = 1} \
		/^##@/ {section = substr($$0, 5); next} \
		/^[a-zA-Z0-9_-]+:.*## / { \
			if ($$1 in isdaily) { desc[$$1] = $$2; next } \
			if (!(section in more)) sections[++ns] = section; \
			more[section] = more[section] sprintf("  %-15s %s\n", $$1, $$2) } \
		END { print "Every day:"; \
			for (i = 1; i <= n; i++) { if (!(order[i] in desc)) { print "make help: DAILY names " order[i] ", no such target" > "/dev/stderr"; exit 1 } \
				printf "  %-15s %s\n", order[i], desc[order[i]] } \
			print "\nThe rest, by topic:"; for (i = 1; i <= ns; i++) printf "\n%s\n%s", sections[i], more[sections[i]] }' $(MAKEFILE_LIST)
	@echo

.PHONY: dev
dev: ## Start db + API with live reload, attached to the logs (Ctrl-C stops)
	$(ensure-own-stack)
	$(ensure-volumes)
	$(DEV) up --build --remove-orphans --attach api --attach migrate

.PHONY: up
up: ## Start the stack in the background; returns once the API is healthy
	$(ensure-own-stack)
	$(ensure-volumes)
	$(DEV) up --build --remove-orphans --detach --wait
	@echo "API ready on http://localhost:$(API_PORT) (Swagger UI: http://localhost:$(API_PORT)/)"
	@echo "Traces: http://localhost:$(JAEGER_UI_PORT) (Jaeger); metrics and pprof: http://localhost:$(ADMIN_PORT)/metrics, /debug/pprof/"

.PHONY: down
down: ## Stop the stack (data and caches are kept)
	$(DEV) down --remove-orphans

.PHONY: logs
logs: ## Follow the stack's logs
	$(DEV) logs --follow --tail=100

.PHONY: ps
ps: ## Show the stack's containers and their health
	$(DEV) ps --all

.PHONY: test
test: ## Run every Ginkgo suite in containers against a throwaway PostgreSQL
	@bash devtools/test.sh

.PHONY: test-race
test-race: ## make test with the race detector (CI runs both)
	@RACE=1 bash devtools/test.sh

##@ Debugging

.PHONY: debug
debug: ## Start the stack with the API under Delve on 127.0.0.1:DEBUG_PORT; returns once healthy
	$(ensure-own-stack)
	$(ensure-volumes)
	$(DEBUG) up --build --remove-orphans --detach --wait
	@echo "API ready on http://localhost:$(API_PORT); Delve (API v2 and DAP) on 127.0.0.1:$(DEBUG_PORT)"
	@echo "Attach: VS Code \"Attach to API (Docker)\", GoLand \"Go Remote\", or: dlv connect 127.0.0.1:$(DEBUG_PORT)"

.PHONY: debug-down
debug-down: ## Stop the debug stack (the same as make down)
	$(DEV) down --remove-orphans

.PHONY: debug-cli
debug-cli: ## Delve's terminal client on the debug API, from inside its container
	$(DEV) exec api dlv connect 127.0.0.1:2345

##@ Database

.PHONY: psql
psql: ## Open psql in the dev database
	$(ensure-volumes)
	@$(DEV) up --detach --wait db
	$(DEV) exec db psql -U $(POSTGRES_USER) -d $(POSTGRES_DB)

.PHONY: migrate
migrate: ## Apply pending migrations
	$(ensure-volumes)
	$(DEV) run --rm migrate

.PHONY: rollback
rollback: ## Roll back the newest applied migration (FORCE=1 even if it drops rows)
	$(ensure-volumes)
	$(DEV) run --rm migrate go run ./app/cmd/api migrate down $(if $(FORCE),--force)

.PHONY: migrate-status
migrate-status: ## List migrations and whether each is applied
	$(ensure-volumes)
	$(DEV) run --rm migrate go run ./app/cmd/api migrate status

.PHONY: migration
migration: ## Create an empty SQL migration pair: make migration name=add_likes
	$(ensure-volumes)
	@test -n "$(name)" || { echo "usage: make migration name=add_likes" >&2; exit 2; }
	$(TOOL) go run ./app/cmd/api migrate create $(name)

.PHONY: seed
seed: ## Load sample users and tweets (idempotent)
	$(ensure-volumes)
	@$(DEV) up --detach --wait db
	@$(DEV) run --rm migrate >/dev/null
	$(DEV) exec -T db psql -q -v ON_ERROR_STOP=1 -U $(POSTGRES_USER) -d $(POSTGRES_DB) < devtools/seed.sql

##@ Dev loop

.PHONY: watch
watch: ## Re-run, on every save, the suites that depend on the saved package, against the test PostgreSQL (Ctrl-C stops)
	@bash devtools/test.sh bash devtools/watch-run.sh

##@ Dev data (snapshots live in the dev database's volume: make down keeps them, make clean deletes them)

# POSTGRES_* as compose gives them to the dev database.
SNAPSHOT := POSTGRES_USER=$(POSTGRES_USER) POSTGRES_DB=$(POSTGRES_DB) bash devtools/db-snapshot.sh

.PHONY: db-reset
db-reset: ## Drop the dev database, migrate it and load the seed data (snapshots are kept)
	$(ensure-volumes)
	@$(DEV) up --detach --wait db
	@$(SNAPSHOT) recreate
	@$(MAKE) seed

.PHONY: db-snapshot
db-snapshot: ## Save the dev database as snapshot SNAP (make db-snapshot SNAP=x); about a second
	@$(DEV) up --detach --wait db
	@$(SNAPSHOT) snapshot "$(SNAP)"

.PHONY: db-restore
db-restore: ## Replace the dev database with snapshot SNAP; a running API reconnects, no restart
	@$(DEV) up --detach --wait db
	@$(SNAPSHOT) restore "$(SNAP)"

.PHONY: db-snapshots
db-snapshots: ## List the dev database's snapshots (make db-snapshot-rm SNAP=x deletes one)
	@$(DEV) up --detach --wait db
	@$(SNAPSHOT) list

.PHONY: db-snapshot-rm
db-snapshot-rm: ## Delete snapshot SNAP
	@$(DEV) up --detach --wait db
	@$(SNAPSHOT) drop "$(SNAP)"

.PHONY: test-snapshot
test-snapshot: ## Snapshot, change and restore the dev data under the running API, then list the restored tweets over HTTP (starts the stack)
	@$(DEV) ps --status running --services 2>/dev/null | grep -qx api || $(MAKE) up
	@POSTGRES_USER=$(POSTGRES_USER) POSTGRES_DB=$(POSTGRES_DB) bash devtools/test-snapshot.sh

##@ Code

.PHONY: docs
docs: ## Regenerate the OpenAPI docs in docs/ with swag
	$(ensure-volumes)
	$(TOOL) sh devtools/swag.sh

.PHONY: docs-check
docs-check: ## Fail when docs/ differs from what swag generates, README.md is over 200 lines or a Markdown link is broken, in the template or its lean form
	$(ensure-volumes)
	$(TOOL) sh devtools/docs-check.sh

.PHONY: fuzz
fuzz: ## Fuzz request decoding for FUZZTIME (30s): never a panic, a 5xx or an answer over 4 KB
	$(ensure-volumes)
	$(TOOL) go test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./app/httpapi

.PHONY: lint
lint: ## golangci-lint (.golangci.yml) and tidy go.mod files, on every module
	$(ensure-volumes)
	$(TOOL) sh devtools/lint.sh

# Each checks that two things written apart still agree, so whatever a change
# forgets to update fails here, in seconds, before make test.
.PHONY: check
check: ## Every drift check: lint, docs-check, Postman coverage
	@$(MAKE) lint
	@$(MAKE) docs-check
	@docker build -q -t $(NEWMAN_IMAGE) devtools/newman >/dev/null
	docker run --rm -v "$$PWD:/src:ro" -w /src $(NEWMAN_IMAGE) node devtools/postman-coverage.mjs

##@ Your own service

.PHONY: names
names: ## Print the names derived from NAME, for a tool that runs compose without make
	@printf '%s=%s\n' NAME $(NAME) PROJECT $(PROJECT) IMAGE $(IMAGE) DEV_IMAGE $(DEV_IMAGE) TEST_IMAGE $(TEST_IMAGE) \
		GOMOD_VOLUME $(GOMOD_VOLUME) GOCACHE_VOLUME $(GOCACHE_VOLUME) HOST_UID $(HOST_UID) HOST_GID $(HOST_GID)

##@ Release

.PHONY: image
image: ## Build the release image (IMAGE, default PROJECT:latest)
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .
	@docker image inspect $(IMAGE) --format 'built {{index .RepoTags 0}}: {{.Size}} bytes'

.PHONY: smoke
smoke: image ## Run the release image with its own database and call it
	@bash devtools/smoke.sh

.PHONY: vuln
vuln: image ## govulncheck, offline, on the source and the release binary
	@bash devtools/vuln/run.sh

.PHONY: e2e
e2e: ## Run the Postman collection with newman against the dev stack (starts it)
	@$(DEV) ps --status running --services 2>/dev/null | grep -qx api || $(MAKE) up
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		BASE_URL=http://localhost:$(API_PORT) bash devtools/e2e.sh; \
	else \
		echo "e2e: no Node.js here; running newman in a container"; \
		docker build -q -t $(NEWMAN_IMAGE) devtools/newman >/dev/null; \
		docker run --rm --network $(PROJECT)_default -v "$$PWD:/src:ro" -w /src \
			-e BASE_URL=http://api:5000 $(NEWMAN_IMAGE) bash devtools/e2e.sh; \
	fi

.PHONY: test-observe
test-observe: ## A traced request reaches Jaeger with its HTTP and SQL spans, its log line its trace id (starts the stack)
	@$(DEV) ps --status running --services 2>/dev/null | grep -qx jaeger || $(MAKE) up
	@bash devtools/test-observe.sh

##@ Deploying

.PHONY: k8s-check
k8s-check: ## Render deploy/k8s overlays, decode strictly, check policies (offline)
	$(ensure-volumes)
	@bash devtools/k8s-check.sh

##@ Cleaning

.PHONY: clean
clean: ## Remove containers, the dev database volume with its snapshots, and build output (keeps Go caches)
	@echo "make clean: deleting the dev database and its snapshots (make db-snapshots lists them), tmp/ and reports/"
	$(DEV) down --volumes --remove-orphans
	$(TEST) down --volumes --remove-orphans
	docker volume rm --force $(PROJECT)_pgdata >/dev/null
	rm -rf tmp reports

.PHONY: clean-all
clean-all: clean ## Also remove the Go module and build caches and built images
	-docker volume rm $(CACHE_VOLUMES)
	-docker image rm $(IMAGE) $(DEV_IMAGE) $(TEST_IMAGE) $(VULN_IMAGE) $(NEWMAN_IMAGE)

# The proving ground: benchmarks, load, memory, replica, reload and debugger
# proofs and the renamer, which prove this template's claims. Nothing above
# needs it; `rm -r proving` removes it (docs/starting-your-own-service.md).
-include proving/proving.mk
