#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
# Build angpix's libFuzzer targets and run each for SECONDS (default 60).
# usage: fuzz/run.sh [SECONDS] [TARGET...]     (targets: star mrc model)
# Crashes, hangs and out-of-memory inputs are written to fuzz/artifacts/<target>/; keep each as a
# regression test in the main package once fixed.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(star mrc model)

swift build -c release -Xswiftc -sanitize=fuzzer,address >/dev/null
bin=$(swift build -c release -Xswiftc -sanitize=fuzzer,address --show-bin-path)
python3 make_seeds.py corpus-seeds
status=0
for t in "${targets[@]}"; do
  case $t in star) exe=FuzzSTAR;; mrc) exe=FuzzMRC;; model) exe=FuzzModel;; *) echo "unknown target $t"; exit 2;; esac
  mkdir -p "corpus-$t" "artifacts/$t"
  cp -n corpus-seeds/$t/* "corpus-$t/" 2>/dev/null || true
  echo "== fuzzing $t for ${seconds}s"
  if ! "$bin/$exe" "corpus-$t" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
       -artifact_prefix="artifacts/$t/" -print_final_stats=1 2> "artifacts/$t.log"; then
    echo "!! $t: a finding (see fuzz/artifacts/$t/ and artifacts/$t.log)"; status=1
  fi
  grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "artifacts/$t.log" | tail -2 || true
done
exit $status
