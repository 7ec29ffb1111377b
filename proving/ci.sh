# The proving ground's CI stages, sourced by .ci/run after the service's own.
section "floor-check"; make floor-check # the benchmark floor runs the store's SQL
section "memory";     make memory-check
section "test-reload"; make test-reload # 0 failures across 10 reloads, a failed build and its fix
section "test-debug"; make test-debug
section "stacks-apart"; make stacks-apart
section "rename-check"; make rename-check
# A steady, moderate load: what is proven is zero failures across restarts.
section "replicas-test"; make replicas-test RATE=60 CONCURRENCY=8
