#!/bin/sh
# Runs the "Signals: seeing past kernel buffers" benchmark of docs/benchmarks.md.
# Usage: bench/run-signals.sh [--seconds S] [--concurrent] [--only 1c,2d] [--timeline]
#                             [--in-flight-cap MIN,MAX] [--queue-kib N] [--quick]
# Prints a Markdown table and writes it to target/bench/signals.md (timelines, with --timeline,
# to target/bench/signals-timeline/). Eight configurations of 22 s, one at a time: about 3.5 min.
set -eu
cd "$(dirname "$0")/.."
mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp-signals.txt
# Run from a copy of the classes: a build started meanwhile (mvn clean, another test run) must not
# swap or delete them under a run that lasts minutes.
snapshot=$(mktemp -d "${TMPDIR:-/tmp}/keepup-signals.XXXXXX")
trap 'rm -rf "$snapshot"' EXIT INT TERM
cp -r target/classes "$snapshot/classes"
cp -r target/test-classes "$snapshot/test-classes"
echo "[bench] commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src/main 2>/dev/null || echo ', with uncommitted changes in src/main')" >&2
# Tests (and this benchmark) are compiled into the dev.keepup module, but run here on the plain
# class path, where module-info is ignored; java.net.http is a default root module there.
java -Xms512m -Xmx512m \
  -Djava.util.logging.config.file=bench/logging.properties \
  -cp "$snapshot/classes:$snapshot/test-classes:$(cat target/cp-signals.txt)" \
  dev.keepup.bench.SignalsBenchmark "$@"
