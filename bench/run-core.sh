#!/bin/sh
# Runs the "Core: pacing accuracy and overhead" benchmark of docs/benchmarks.md.
#
#   bench/run-core.sh [--rounds N] [--slices K] [--seconds S] [--pacing-seconds S]
#                     [--sizes B,B] [--variants V,V] [--client jdk|socket|process]
#                     [--client-cpus LIST] [--idle-timeout-ms N] [--quick]
#                     [--pool A.csv,B.csv] [--help]
#
# The one-core measurement of docs/benchmarks.md pins the whole JVM (and the build) to one CPU:
#   taskset -c 1 bench/run-core.sh --client socket --pacing-seconds 0
# and the separated one puts the server on CPU 1 (with G1, as on a multi-core server) and the
# client in a JVM of its own on CPU 0:
#   KEEPUP_JAVA_OPTS=-XX:+UseG1GC taskset -c 1 bench/run-core.sh --client process --client-cpus 0 --pacing-seconds 0
#
# Compiles main and test classes, then runs dev.keepup.bench.CoreBenchmark (in
# src/test/java) on the plain class path. Prints a Markdown table and writes it to
# target/bench/core.md, with one row per measured turn in target/bench/core-turns.csv (see
# --pool). Takes about 4 minutes with the defaults; --quick checks that it works in about a
# minute (figures meaningless). KEEPUP_BUILD_DIR=/abs/dir builds (and writes) elsewhere than
# target/ (the pom's keepup.buildDir), so it can run beside another build.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR="${KEEPUP_BUILD_DIR:-$PWD/target}"
# KEEPUP_MVN_ARGS adds Maven options, such as -o to build offline.
# shellcheck disable=SC2086
mvn -B -q ${KEEPUP_MVN_ARGS:-} test-compile dependency:build-classpath \
  -Dkeepup.buildDir="$BUILD_DIR" -Dmdep.outputFile="$BUILD_DIR/cp.txt"
# Tests (and this benchmark) are compiled into the dev.keepup module, but run here on the plain
# class path, where module-info is ignored; java.net.http is a default root module there.
# KEEPUP_JAVA_OPTS adds JVM options, such as -XX:+UseG1GC.
# shellcheck disable=SC2086
exec java -Xms512m -Xmx512m ${KEEPUP_JAVA_OPTS:-} \
  -Djava.util.logging.config.file=bench/logging.properties \
  -Dkeepup.bench.out="$BUILD_DIR/bench/core.md" \
  -cp "$BUILD_DIR/classes:$BUILD_DIR/test-classes:$(cat "$BUILD_DIR/cp.txt")" \
  dev.keepup.bench.CoreBenchmark "$@"
