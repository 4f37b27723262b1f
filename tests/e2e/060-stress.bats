#!/usr/bin/env bats
# The fault-and-load driver in its short mode (tests/stress/README.md): 4
# clients x 30 random operations while API server, plugins and runtime helpers
# are SIGKILLed; then every invariant and leak check. `make stress` runs the
# long mode (8 clients x 150). The seed is random: a failure prints it, and
# `tests/stress/run --seed S BUILD_DIR` repeats the run.

load helpers

@test "short stress run: faults lose nothing and leak nothing" {
	run "$CONTAINER_TEST_TOP/tests/stress/run" --short "$CONTAINER_TEST_BUILD"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"all invariants hold"* ]]
}
