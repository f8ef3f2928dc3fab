#!/usr/bin/env bash
# Fuzzes every target for a short fixed time, starting from its seeds: the
# smoke run CI does (.ci/run). Installs cargo-fuzz if it is missing, builds
# every target once, then runs each for FUZZ_SECONDS (default 20).
#
#   bash fuzz/run.sh                          # all targets, 20 s each
#   FUZZ_SECONDS=300 bash fuzz/run.sh decode_cbor endpoint
#
# New inputs go to fuzz/corpus/TARGET (ignored by git); seeds/TARGET is only
# read. Any crash fails the run (exit 1) and prints its artifact path;
# reproduce it with `cargo fuzz run TARGET ARTIFACT` and minimise it with
# `cargo fuzz tmin TARGET ARTIFACT` (both with RUSTC_BOOTSTRAP=1).
#
# Built for a short run: no sanitizer and opt-level 1, in fuzz/target/smoke.
# On 2 cores that builds in under 2 minutes instead of 5 (AddressSanitizer
# and opt-level 3, cargo-fuzz's defaults) and runs about 8 times as many
# inputs a second; the workspace forbids unsafe code, so ASan watches only
# dependencies, which a 20 s run does not stress. For long runs, use
# cargo-fuzz's defaults (`cargo fuzz run TARGET`), or here
# FUZZ_SANITIZER=address FUZZ_OPT_LEVEL=3.
set -euo pipefail
cd "$(dirname "$0")"

# The newest cargo-fuzz that builds on stable Rust 1.95 (checked).
CARGO_FUZZ_VERSION=0.13.2
seconds=${FUZZ_SECONDS:-20}
flags=(--sanitizer "${FUZZ_SANITIZER:-none}" --target-dir target/smoke)
export CARGO_PROFILE_RELEASE_OPT_LEVEL=${FUZZ_OPT_LEVEL:-1}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install -q cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# cargo-fuzz builds with -Z flags (sanitizer, coverage passes) that stable
# rustc takes only with this.
export RUSTC_BOOTSTRAP=1

if (($#)); then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

logs=target/run-logs
mkdir -p "$logs"
started=$SECONDS
echo "== building ${#targets[@]} fuzz targets"
build=(cargo fuzz build "${flags[@]}")
((${#targets[@]} == 1)) && build+=("${targets[0]}")
if ! "${build[@]}" >"$logs/build.log" 2>&1; then
  tail -n 60 "$logs/build.log" >&2
  echo "!! the fuzz targets do not build (full log: fuzz/$logs/build.log)" >&2
  exit 1
fi
echo "   built in $((SECONDS - started)) s"

failed=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log="$logs/$target.log"
  echo "== $target: ${seconds} s"
  mkdir -p "seeds/$target"
  if cargo fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
      -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^#[0-9]+\s+DONE' "$log" | tail -1 | sed 's/^/   /' || true
  else
    failed+=("$target")
    tail -n 40 "$log" >&2
    artifact=$(grep -oE 'Test unit written to \S+' "$log" | tail -1 | awk '{print $5}')
    echo "!! $target crashed; artifact: ${artifact:-none written} (full log: fuzz/$log)" >&2
  fi
done

echo "== fuzzing took $((SECONDS - started)) s in all"
if ((${#failed[@]})); then
  echo "!! crashes in: ${failed[*]}" >&2
  exit 1
fi
