# The proving ground's targets, included by the Makefile while proving/
# exists: what proves this template's claims (speed, memory, replicas,
# reloads, the debugger, renaming) rather than what a service needs daily.

# LB_PORT: the load balancer of make replicas-test, on 127.0.0.1.
LB_PORT ?= 5233
export LB_PORT

##@ Proofs (the proving ground)

.PHONY: floor-check
floor-check: ## The benchmark floor's copies of the store's SQL are the store's (proving/floor)
	$(ensure-volumes)
	@mkdir -p tmp && printf '{"Replace":{"app/store/floor_copies_test.go":"proving/floor/testdata/copies_test.go"}}' >tmp/floor-overlay.json
	$(TOOL) go test -count=1 -overlay=tmp/floor-overlay.json -run '^TestFloorCopies$$' ./app/store

.PHONY: test-reload
test-reload: ## Under load, 10 reloads and a save that does not compile (then its fix) drop no request (starts the stack)
	@$(DEV) ps --status running --services 2>/dev/null | grep -qx api || $(MAKE) up
	@bash proving/test-reload.sh

.PHONY: test-debug
test-debug: ## Prove the debugger end to end: a breakpoint in /hello, before and after a reload
	@bash proving/test-debug.sh

.PHONY: memory-check
memory-check: image ## Release image in 256 MiB under slow uploads, 20k idle and 10k slowloris connections: bounded RSS, no OOM kill, other requests answered
	@bash proving/memory-check.sh

.PHONY: replicas-test
replicas-test: image ## 3 replicas behind HAProxy: racing migrations, rolling restart, SIGKILL
	$(ensure-volumes)
	@bash proving/replicas-test.sh

.PHONY: stacks-apart
stacks-apart: ## Two checkouts, two PROJECTs: make up refuses the other's stack, make clean keeps it (seconds)
	@bash proving/stacks-apart.sh

##@ Benchmarks (the proving ground)

.PHONY: bench
bench: ## API vs a same-SQL net/http+pgx floor, alternating (DURATION=5s ROUNDS=2 CONCURRENCY=32 ONLY=)
	@bash proving/bench.sh

.PHONY: bench-observe
bench-observe: ## The costs of tracing and metrics: BASE (main) vs this tree, off and on, alternating
	@bash proving/bench-observe.sh

.PHONY: bench-load
bench-load: ## Throughput and latency of the dev stack (DURATION=10s CONCURRENCY=16)
	@$(DEV) ps --status running --services 2>/dev/null | grep -qx api || $(MAKE) up
	@bash proving/bench-load.sh

.PHONY: bench-reload
bench-reload: ## Save-to-serving reload time against the bare build and a one-file Fiber program
	@bash proving/bench-reload.sh

.PHONY: bench-debug
bench-debug: ## Measure save-to-debuggable-serving reload time under make debug
	@$(MAKE) debug >/dev/null
	@BUILD=devtools/build-debug.sh bash proving/bench-reload.sh

.PHONY: bench-proxy
bench-proxy: ## Latency the dev proxy adds: direct vs through it, alternating (ROUNDS=4 SECONDS_EACH=5; starts the stack)
	@$(DEV) ps --status running --services 2>/dev/null | grep -qx api || $(MAKE) up
	@bash proving/bench-proxy.sh

.PHONY: bench-start
bench-start: ## A new user's first make up (no build cache, fresh cache volumes) and a warm one, with the dev image's size
	@bash proving/bench-start.sh

.PHONY: bench-watch
bench-watch: ## Save -> result under make watch for an edit in app/twitter and one in app/httpapi, beside make test's time
	@bash proving/bench-watch.sh

##@ Your own service (the proving ground)

.PHONY: rename
rename: ## Give the tree your module path and name, without the proving ground: make rename MODULE=example.com/acme/notes NAME=notes (KEEP_PROVING=1 keeps it)
	@KEEP_PROVING=$(KEEP_PROVING) bash proving/rename.sh "$(MODULE)" "$(NAME)"

.PHONY: rename-check
rename-check: ## Rename a fresh copy at random, without the proving ground; it must pass its own .ci/run and keep no old name
	@bash proving/rename-check.sh
