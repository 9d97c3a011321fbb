#!/bin/sh
# Runs the real-socket bench and the simulator side by side on the same traces ("Simulator vs
# real sockets" in docs/benchmarks.md): Tyrus server -> ShapingRelay following the trace (plus the
# simulator's propagation delay) -> JDK client answering pings; the same frames (SimSource, same
# ladder and seed) and the same figures (QoeMeter).
# Usage: bench/run-real.sh [--trace FILE]... [--seconds 60] [--strategies keepup,await-each-send]
#                          [--all-key] [--rtt-ms 40] [--sim-queue 700k] [--relay-queue 64k] [--quick]
#        bench/run-real.sh --help
# Default: three FCC/HSDPA traces from ../shared/traces/fcc_hsdpa, 60 s each, keepup and
# await-each-send: 6 real minutes plus the build. Writes target/bench/real-trace.md and .csv.
set -eu
cd "$(dirname "$0")/.."
mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp-real.txt
# Run from a copy of the classes: a build started meanwhile must not swap them under a long run.
snapshot=$(mktemp -d "${TMPDIR:-/tmp}/keepup-real.XXXXXX")
trap 'rm -rf "$snapshot"' EXIT INT TERM
cp -r target/classes "$snapshot/classes"
cp -r target/test-classes "$snapshot/test-classes"
echo "[bench] commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src/main 2>/dev/null || echo ', with uncommitted changes in src/main')" >&2
java -Xms512m -Xmx1g \
  -Djava.util.logging.config.file=bench/logging.properties \
  -cp "$snapshot/classes:$snapshot/test-classes:$(cat target/cp-real.txt)" \
  dev.keepup.bench.RealTraceBenchmark "$@"
