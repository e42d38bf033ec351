#!/usr/bin/env bash
# Compiles the CUDA kernels (src/main/cuda) into the plugin's resources (gzip -9 -n):
#   panamax.ptx.gz          PTX for compute capability 8.0+ (the driver JIT-compiles it for the GPU found)
#   panamax.sm_90.cubin.gz  machine code for sm_90 (H100/H200), made by ptxas from the same sources
#                           compiled for compute_90 (with the programmatic dependent launch waits of
#                           common.cuh), so Hopper needs no JIT at start
# Both are committed (compressed: the repository travels to GPU machines with a size limit): a build without nvcc still yields a working plugin, and PtxFreshnessTest
# checks that they match the sources wherever nvcc is installed.
#
# usage: build-ptx.sh [--if-available] [--force] [--out DIR]
#   --if-available  exit quietly when nvcc is missing (how the Maven build calls it)
#   --force         rebuild even when the outputs are newer than the sources
#   --out DIR       write into DIR instead of src/main/resources/dev/panamax/gpu
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
src="$here/src/main/cuda"
out="$here/src/main/resources/dev/panamax/gpu"
if_available=0
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --if-available) if_available=1 ;;
    --force) force=1 ;;
    --out) out="$2"; shift ;;
    *) echo "build-ptx.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
nvcc=${NVCC:-$(command -v nvcc || true)}
if [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc=/usr/local/cuda/bin/nvcc; fi
if [ -z "$nvcc" ]; then
  if [ "$if_available" = 1 ]; then exit 0; fi
  echo "build-ptx.sh: nvcc not found (set NVCC or install the CUDA toolkit)" >&2
  exit 1
fi
ptxas="$(dirname "$(readlink -f "$nvcc")")/ptxas"
[ -x "$ptxas" ] || ptxas=$(command -v ptxas || true)
mkdir -p "$out"
ptx="$out/panamax.ptx.gz"
cubin="$out/panamax.sm_90.cubin.gz"
if [ "$force" = 0 ] && [ -f "$ptx" ] && [ -f "$cubin" ] && [ -z "$(find "$src" -newer "$ptx" -print -quit)" ] \
    && [ ! "$ptx" -nt "$cubin" ]; then
  exit 0
fi
echo "build-ptx.sh: compiling CUDA kernels with $nvcc" >&2
tmp=$(mktemp -d)
# nvcc derives the names of internal symbols from the directory it compiles in, so the sources are
# compiled from one fixed folder: the same bytes from every checkout (PtxFreshnessTest relies on it)
fixed=/tmp/panamax-build-ptx
exec 9>"$fixed.lock"
flock 9
trap 'rm -rf "$tmp" "$fixed"' EXIT
rm -rf "$fixed" && mkdir -p "$fixed" && cp "$src"/* "$fixed"/
(cd "$fixed" && "$nvcc" -ptx -arch=compute_80 -O3 -std=c++17 -o "$tmp/panamax.ptx" panamax.cu)
gzip -9 -n -c "$tmp/panamax.ptx" > "$ptx.tmp"
mv "$ptx.tmp" "$ptx"
if [ -n "$ptxas" ]; then
  (cd "$fixed" && "$nvcc" -ptx -arch=compute_90 -O3 -std=c++17 -o "$tmp/panamax.sm_90.ptx" panamax.cu)
  "$ptxas" -arch=sm_90 -O3 -o "$tmp/panamax.sm_90.cubin" "$tmp/panamax.sm_90.ptx"
  gzip -9 -n -c "$tmp/panamax.sm_90.cubin" > "$cubin.tmp"
  mv "$cubin.tmp" "$cubin"
else
  echo "build-ptx.sh: ptxas not found: $cubin not updated" >&2
fi
