#!/bin/sh
# Runs the trace-driven simulator: every strategy (baselines and PacedSender configurations) over
# every trace, in virtual time, scored by the live QoE of DESIGN.md beside the offline oracle.
# Usage: bench/run-sim.sh [--traces DIR[,DIR]] [--strategies A,B] [--ladder 0.3,0.75,...]
#                         [--rtt-ms 40] [--queue 700k] [--configurator CLASS] [--policy CLASS] ...
#        bench/run-sim.sh --help
# Writes target/sim/results.csv and target/sim/results.md and prints the tables. The default run
# (117 FCC/HSDPA traces plus the synthetic set, all strategies) takes about 20 s on 2 cores.
set -eu
cd "$(dirname "$0")/.."
mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp-sim.txt
# Tests (and the simulator) are compiled into the dev.keepup module, but run here on the plain
# class path, where module-info is ignored.
# KEEPUP_SIM_CP: your own classes (a --policy or --configurator), directories or jars separated
# by ':', absolute or relative to this clone's root (the script runs from there).
exec java -Xms1g -Xmx2g \
  -Djava.util.logging.config.file=bench/logging-sim.properties \
  -cp "target/classes:target/test-classes:$(cat target/cp-sim.txt)${KEEPUP_SIM_CP:+:$KEEPUP_SIM_CP}" \
  dev.keepup.sim.Simulator "$@"
