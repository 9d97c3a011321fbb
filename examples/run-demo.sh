#!/usr/bin/env bash
# Runs the keepup live demo: ./examples/run-demo.sh [--host 127.0.0.1] [--port 8080] [--fps 30] [--log-decisions]
#
# Installs the keepup library into the local Maven repository first when it is missing there or
# older than the library's sources, builds the demo, and runs it in this terminal (Ctrl-C stops it).
# Needs Java 17+ and Maven.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
version=0.1.0-SNAPSHOT
repo="${KEEPUP_M2_REPO:-$HOME/.m2/repository}"
jar="$repo/dev/keepup/keepup/$version/keepup-$version.jar"
# The demo's tests use the library's test-jar (its browser harness); Maven resolves it even to build
# the run-time class path below (dependency:build-classpath resolves the test scope), so it must be there.
tests_jar="$repo/dev/keepup/keepup/$version/keepup-$version-tests.jar"

for arg in "$@"; do
  if [[ $arg == -h || $arg == --help ]]; then
    echo "usage: $0 [--host H] [--port N] [--fps N] [--log-decisions]"
    echo "  --host H          address to listen on (default 127.0.0.1, this machine only; 0.0.0.0: every interface)"
    echo "  --port N          HTTP and WebSocket port (default 8080)"
    echo "  --fps N           camera frame rate, 1-60 (default 30)"
    echo "  --log-decisions   print each tab's adaptation decisions and verdict changes"
    echo "Environment: KEEPUP_M2_REPO, the local Maven repository if not ~/.m2/repository."
    exit 0
  fi
done

command -v mvn >/dev/null || { echo "run-demo.sh: needs Maven (mvn) on the PATH" >&2; exit 1; }
command -v java >/dev/null || { echo "run-demo.sh: needs Java 17 or later on the PATH" >&2; exit 1; }

if [[ ! -f $jar || ! -f $tests_jar || -n $(find "$root/pom.xml" "$root/src/main" -newer "$jar" -print -quit) ]]; then
  echo "run-demo.sh: installing the keepup library into the local Maven repository (first run downloads dependencies)..."
  # -DskipTests, not -Dmaven.test.skip=true: the latter would not build the test-jar.
  mvn -B -q -Dstyle.color=never -f "$root/pom.xml" -DskipTests install
fi

echo "run-demo.sh: building the demo..."
mvn -B -q -Dstyle.color=never -f "$here/pom.xml" compile dependency:build-classpath \
  -Dmdep.includeScope=runtime -Dmdep.outputFile="$here/target/classpath.txt"

# exec: Ctrl-C goes straight to the demo's JVM, whose shutdown hook closes the senders and the server.
exec java -cp "$here/target/classes:$(cat "$here/target/classpath.txt")" dev.keepup.demo.DemoServer "$@"
