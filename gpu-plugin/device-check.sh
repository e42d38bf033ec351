#!/usr/bin/env bash
# GPU checks and benchmark for the CUDA plugin, on a machine with an NVIDIA GPU and no Java: it runs
# the jlink image cli/target/panamax (build it where Java is: mvn -q -B -DskipTests package).
#
#   gpu-plugin/device-check.sh [all|checks|kernels|bench]   (default: all; from anywhere)
#   gpu-plugin/device-check.sh pack                    (here, where Java is: see below)
#
# The image with its Java runtime is about 50 MB and a copy of the working tree is 33 MB, more than
# some remote runners take at once: `pack` writes cli/target/panamax-image.tar.xz (the image without
# the embedded demo model, about 24 MB), and on the GPU machine the image is unpacked from it when
# cli/target/panamax is absent.
#
# checks: per-type kernel checks against the CPU kernels, kernel speeds, whole-model checks (every
#         reference fixture fully and partially offloaded with each KV cache type, a synthetic 1.5B
#         model with 10 of 28 layers and with a --vram-limit split);
# kernels: the per-type kernel checks and speeds only;
# bench:  synthetic 14B Q4_K_H / Q4_K_M and Qwen3-0.6B Q8_0 files made here, pp512 / tg128 with all
#         layers on the GPU (F16 and Q8_0 KV) and with --vram-limit 6GiB.
# Results: PASS/FAIL lines and tables on stdout and in $OUT/gpu-report.txt (OUT defaults to
# ./device-check-out), the full log in $OUT/device-check.log. Exit status 0 when nothing failed.
# BENCH=SPEC[,SPEC] benchmarks only those synthetic models (all layers, F16 KV).
# PANAMAX_JAVA_OPTS adds JVM options (e.g. -Dpanamax.cuda.parallelParts=false to compare with a choice switched off,
# or -Dpanamax.cuda.cubin=OLD.sm_90.cubin.gz to run another build's kernels: carry the resource of the build to
# compare with and alternate `bench` runs with and without it on one host, whose speed is its own).
# DEADLINE_S (default 530) bounds the run: steps that no longer fit are skipped, a hang is cut off.
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
mode=${1:-all}
image=$root/cli/target/panamax
packed=$root/cli/target/panamax-image.tar.xz
java=$image/runtime/bin/java
if [ "$mode" = pack ]; then
  if [ ! -x "$java" ]; then
    echo "device-check.sh pack: no image at $image (build it with: mvn -q -B -DskipTests package)" >&2
    exit 1
  fi
  tmp=$packed.partial
  tar -C "$root/cli/target" --exclude=panamax/models -cf - panamax | xz -T0 -6 > "$tmp" && mv "$tmp" "$packed" \
    || { rm -f "$tmp"; echo "device-check.sh pack: failed" >&2; exit 1; }
  echo "device-check.sh pack: $packed ($(du -h "$packed" | cut -f1)); carry it (cli/target/panamax-image.tar.xz)"
  exit 0
fi
OUT=${OUT:-$root/device-check-out}
mkdir -p "$OUT"
deadline=${DEADLINE_S:-530}
if [ ! -x "$java" ] && [ -f "$packed" ]; then
  echo "unpacking $packed"
  tar -C "$root/cli/target" -xJf "$packed" || { echo "FAIL could not unpack $packed" | tee "$OUT/gpu-report.txt"; exit 1; }
fi
if [ ! -x "$java" ]; then
  echo "FAIL no Panamax image at $image (carry cli/target/panamax or the archive of device-check.sh pack; build it with: mvn -q -B -DskipTests package)" \
    | tee "$OUT/gpu-report.txt"
  exit 1
fi
{ nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.max.sm,power.limit --format=csv 2>&1
  nvidia-smi 2>&1 | head -20; } > "$OUT/nvidia-smi.txt"
head -3 "$OUT/nvidia-smi.txt"
# synthetic models: RAM-backed /dev/shm when it has room (about 20 GB for all of them), else local disk
models=""
for d in /dev/shm /tmp "$root/.device-models"; do
  mkdir -p "$d" 2>/dev/null || continue
  avail=$(df -Pk "$d" 2>/dev/null | awk 'NR==2 {print $4}')
  if [ -n "$avail" ] && [ "$avail" -gt $((22 * 1024 * 1024)) ]; then models=$d/panamax-models; break; fi
done
[ -n "$models" ] || models=/tmp/panamax-models
mkdir -p "$models"
echo "models in $models ($(df -Ph "$models" | awk 'NR==2 {print $4}') free); cores: $(nproc); memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
rm -f "$OUT/gpu-report.txt"
# NVLink multicast stays off (a shared host's rule); nothing here uses it
export NCCL_NVLS_ENABLE=0
timeout -k 10 $((deadline + 40)) "$java" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -XX:+UseParallelGC -Xss4m -Xmx32g ${PANAMAX_JAVA_OPTS:-} -cp "$image/lib/*" dev.panamax.gpu.DeviceCheck "$mode" \
  --out "$OUT" --models "$models" --fixtures "$root/engine/src/test/resources/fixtures" --deadline-s "$deadline" \
  ${BENCH:+--bench "$BENCH"} \
  2>&1 | tee "$OUT/device-check.log"
rc=${PIPESTATUS[0]}
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  echo "FAIL device check killed after $((deadline + 40)) s" | tee -a "$OUT/gpu-report.txt"
fi
echo "device-check.sh: exit $rc; report in $OUT/gpu-report.txt"
exit "$rc"
