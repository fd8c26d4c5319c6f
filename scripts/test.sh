#!/usr/bin/env sh
# `npm test`: the typecheck and the production build run beside the unit tests, which leave a core
# idle at times (one file still running at the end, module loading); their output is printed after
# vitest's. Then the e2e tests on that build, unless any of the three failed.
set -u
mkdir -p .tmp
npm run -s typecheck > .tmp/typecheck.log 2>&1 &
typecheck=$!
vite build > .tmp/build.log 2>&1 &
build=$!
vitest run
unit=$?
wait $typecheck
types=$?
wait $build
built=$?
cat .tmp/typecheck.log .tmp/build.log
[ $types -eq 0 ] || echo "typecheck failed (exit $types)"
[ $built -eq 0 ] || echo "vite build failed (exit $built)"
[ $types -eq 0 ] && [ $unit -eq 0 ] && [ $built -eq 0 ] || exit 1
exec playwright test
