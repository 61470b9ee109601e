#!/bin/sh
# The whole suite (`npm test`). Files that measure time (a failover's cut-off, a drill's losses, a soak's pace) say
# so on a line `// alone: <why>` and run one at a time with nothing beside them; every other file runs two at a time,
# as these 2-core machines allow. Both parts always run; the suite fails if either does.
cd "$(dirname "$0")/.." || exit 1
# `npm test` has just compiled dist/ (package.json): tests start that CLI rather than the sources under tsx.
export CLUSTER_ENDPOINT_TEST_BUILT=1
files=$(find test -name '*.test.ts' | sort)
# shellcheck disable=SC2086 # one word per file: test paths have no spaces
shared=$(grep -L '^// alone: ' $files)
# shellcheck disable=SC2086
alone=$(grep -l '^// alone: ' $files)
# shellcheck disable=SC2086
node --import tsx --test --test-concurrency=2 $shared
shared_status=$?
# shellcheck disable=SC2086
node --import tsx --test --test-concurrency=1 $alone
alone_status=$?
[ "$shared_status" -eq 0 ] && [ "$alone_status" -eq 0 ]
