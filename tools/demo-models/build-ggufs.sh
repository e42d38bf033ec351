#!/usr/bin/env bash
# Builds the demo GGUFs from the trained checkpoints with Panamax's own convert and quantize,
# measures each target quantization against F16 (perplexity, KL divergence, top-1 agreement on
# the held-out text) and prints the README's quality table (markdown) on standard output.
#
#   tools/demo-models/build-ggufs.sh            # everything, into /tmp/demo (5-15 min on 2 cores)
#   TYPES="Q4_K_M Q4_K_H" DRAFT_TYPES=Q4_K_M tools/demo-models/build-ggufs.sh   # a subset
#   REUSE=1 tools/demo-models/build-ggufs.sh    # keep outputs that exist (e.g. only print the table)
#   SHIP=1 tools/demo-models/build-ggufs.sh     # also copy the shipped files into models/
#
# Environment:
#   ARTIFACTS    train.py's --out folder with target/ and draft/ (default /work/demo-artifacts)
#   OUT          where the GGUFs, base.kl and ppl-*.json go (default /tmp/demo)
#   TYPES        target quantizations (default: all of the table); F16 is always made
#   DRAFT_TYPES  draft quantizations (default "Q8_0 Q4_K_M")
#   REUSE        1: skip a step whose output exists and is not empty (default 0: redo all)
#   SHIP         1: copy demo-target-{Q4_K_M,Q4_K_H} and demo-draft-{Q4_K_M,Q8_0} to models/ (every file under 10 MiB)
#   THREADS      compute threads (default: physical cores)
# Needs: JDK 25 (as ./panamax), python3 (standard library only) for the table.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
cd "$root"

ARTIFACTS=${ARTIFACTS:-/work/demo-artifacts}
OUT=${OUT:-/tmp/demo}
TYPES=${TYPES:-Q8_0 Q6_K Q5_K_M Q4_K_M Q3_K_M Q3_K_S IQ4_XS Q4_K_H}
DRAFT_TYPES=${DRAFT_TYPES:-Q8_0 Q4_K_M}
REUSE=${REUSE:-0}
SHIP=${SHIP:-0}
TEXT=engine/src/test/resources/demo/held-out.txt
threads=()
if [ -n "${THREADS:-}" ]; then threads=(-t "$THREADS"); fi

mkdir -p "$OUT"
./panamax --version >/dev/null   # builds the image once, up front

log() { echo "build-ggufs: $*" >&2; }

# fresh OUTPUT: runs the rest of the line unless REUSE=1 and OUTPUT already exists (non-empty)
fresh() {
  local out=$1
  shift
  if [ "$REUSE" = 1 ] && [ -s "$out" ]; then
    log "keeping $out"
    return 0
  fi
  log "making $out"
  "$@"
}

# to FILE COMMAND...: the command's standard output into FILE, written only if it succeeds
to() {
  local file=$1
  shift
  "$@" >"$file.tmp"
  mv "$file.tmp" "$file"
}

for model in target draft; do
  fresh "$OUT/demo-$model-F16.gguf" ./panamax convert --no-progress --name "demo-$model" --outtype f16 \
    "$ARTIFACTS/$model" "$OUT/demo-$model-F16.gguf" >&2
done
for t in $TYPES; do
  fresh "$OUT/demo-target-$t.gguf" ./panamax quantize --no-progress "${threads[@]}" \
    "$OUT/demo-target-F16.gguf" "$OUT/demo-target-$t.gguf" "$t" >&2
done
for t in $DRAFT_TYPES; do
  fresh "$OUT/demo-draft-$t.gguf" ./panamax quantize --no-progress "${threads[@]}" \
    "$OUT/demo-draft-F16.gguf" "$OUT/demo-draft-$t.gguf" "$t" >&2
done

# F16 perplexity writes the KL base (its logits' top 64 per position); each type is compared with it
if [ "$REUSE" != 1 ] || [ ! -s "$OUT/base.kl" ] || [ ! -s "$OUT/ppl-F16.json" ]; then
  log "making $OUT/base.kl and $OUT/ppl-F16.json"
  rm -f "$OUT/base.kl"
  to "$OUT/ppl-F16.json" ./panamax perplexity "${threads[@]}" -m "$OUT/demo-target-F16.gguf" -f "$TEXT" -c 512 \
    --kl-divergence-base "$OUT/base.kl" --json
fi
for t in $TYPES; do
  fresh "$OUT/ppl-$t.json" to "$OUT/ppl-$t.json" ./panamax perplexity "${threads[@]}" \
    -m "$OUT/demo-target-$t.gguf" -c 512 --kl-divergence --kl-divergence-base "$OUT/base.kl" --json
done
for f in F16 $TYPES; do
  fresh "$OUT/inspect-$f.json" to "$OUT/inspect-$f.json" ./panamax inspect --json "$OUT/demo-target-$f.gguf"
done

if [ "$SHIP" = 1 ]; then
  mkdir -p models
  for f in demo-target-Q4_K_M demo-target-Q4_K_H demo-draft-Q4_K_M demo-draft-Q8_0; do
    cp "$OUT/$f.gguf" models/
  done
  log "copied to models/: $(du -cb models/*.gguf | tail -1 | cut -f1) bytes in all"
fi

# The table: one row per type, F16 first (the base: KL 0 and 100 % top-1 by definition).
python3 - "$OUT" F16 $TYPES <<'EOF'
import json, os, sys
out, types = sys.argv[1], sys.argv[2:]
print("| type | size (MB) | bits/weight | PPL | mean KL vs F16 | top-1 vs F16 |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for t in types:
    info = json.load(open(os.path.join(out, f"inspect-{t}.json")))
    p = json.load(open(os.path.join(out, f"ppl-{t}.json")))
    name = "Q4_K_H (hybrid)" if t == "Q4_K_H" else t
    size = f"{info['file_bytes'] / 1e6:.2f}"
    bpw = f"{info['bits_per_weight']:.2f}"
    ppl = f"{p['ppl']:.2f} ± {p['ppl_error']:.2f}"
    if t == "F16":
        kl, top = "0 (base)", "100 %"
    else:
        kl = f"{p['kl_divergence']:.2e} ± {p['kl_divergence_error']:.1e}"
        top = f"{100 * p['same_top']:.2f} ± {100 * p['same_top_error']:.2f} %"
    print(f"| {name} | {size} | {bpw} | {ppl} | {kl} | {top} |")
EOF
