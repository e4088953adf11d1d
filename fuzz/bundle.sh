#!/bin/bash
# Packs the fuzz targets of a build (fuzz_multi, one binary holding them all) with every shared
# library it loads (glibc and its loader included), their seed corpora and fuzz/run_device.sh into one tarball, for a many-core machine
# that has none of the Debian packages (the lent device host: fuzz/RESULTS.md).
#   fuzz/bundle.sh <build dir> <out.tar.xz> [target...]
# The binaries' interpreter and RPATH point at /tmp/fz/lib (patchelf), so they run from /tmp/fz as
# ordinary executables: libFuzzer's -jobs and -fork modes re-execute argv[0], which a
# `ld-linux.so --library-path` wrapper (shared/tools/device-bundle.sh) would not survive.
# Debug sections are stripped (the symbols stay): symbolize a report here with the unstripped
# binary of <build dir> (llvm-symbolizer --obj=<binary> <offset>).
set -euo pipefail
build=${1:?usage: fuzz/bundle.sh <build dir> <out.tar.xz> [target...]}; out=${2:?output .tar.xz}; shift 2
here=$(cd "$(dirname "$0")" && pwd)
prefix=/tmp/fz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$here"/*.cpp; do
    n=$(basename "$src" .cpp)
    [ "$n" = make_corpus ] || targets+=("$n")
  done
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lib" "$tmp/bin" "$tmp/corpus" "$(dirname "$out")"
# One executable for every target (fuzz_multi, which picks its target from the name it is run as):
# each target binary is ~70 MB and all ten would not fit in one device call.
multi=$build/fuzz/fuzz_multi
[ -x "$multi" ] || { echo "bundle.sh: $multi not built (cmake --build $build --target fuzz_multi)" >&2; exit 2; }
cp "$multi" "$tmp/bin/"
strip --strip-debug "$tmp/bin/fuzz_multi"
ldd "$multi" | awk '/=>/ {print $3} /ld-linux/ {print $1}' | grep '^/' | sort -u | xargs -I{} cp -L -n {} "$tmp/lib/"
for t in "${targets[@]}"; do
  ln -s fuzz_multi "$tmp/bin/fuzz_$t"
  cp -r "$here/corpus/$t" "$tmp/corpus/"
  # The working corpus of earlier runs in this build (fuzz/run_fuzzers.sh), when there is one.
  [ -d "$build/fuzz-corpus/$t" ] && find "$build/fuzz-corpus/$t" -type f -exec cp -n {} "$tmp/corpus/$t/" \;
done
loader=$(basename "$(ls "$tmp"/lib/ld-linux-* | head -n 1)")
for b in "$tmp"/bin/fuzz_multi; do patchelf --set-interpreter "$prefix/lib/$loader" --force-rpath --set-rpath "$prefix/lib" "$b"; done
# A library with its own RUNPATH (Debian's libmpi, libopen-rte: /usr/lib/x86_64-linux-gnu/openmpi/lib)
# looks for its dependencies there and then in the system folders, not in the executable's RPATH: on
# the device host that found a newer OpenMPI built for another glibc ("GLIBC_2.38 not found") and no
# target started. Their RPATH is pointed at the bundle too.
for l in "$tmp"/lib/*; do
  if readelf -d "$l" 2>/dev/null | grep -q RUNPATH; then patchelf --force-rpath --set-rpath "$prefix/lib" "$l"; fi
done
# FUZZ_BUNDLE_NO_ICU_DATA=1: ICU's 31 MB data library is replaced by an empty one, so that the bundle
# (34 MB instead of 41) travels beside the repository within a device call's 64 MiB. Only the text
# target uses ICU: leave it out of such a run (fuzz/RESULTS.md, session 6).
if [ "${FUZZ_BUNDLE_NO_ICU_DATA:-0}" = 1 ]; then
  icu=$(basename "$(ls "$tmp"/lib/libicudata.so.* | head -n 1)")
  sym=$(nm -D --defined-only "$tmp/lib/$icu" | awk '/icudt[0-9]+_dat/ {print $3}')
  echo "const unsigned char ${sym}[32] __attribute__((aligned(16))) = {0};" >"$tmp/icu_stub.c"
  gcc -shared -fPIC -o "$tmp/lib/$icu" -Wl,-soname,"$icu" "$tmp/icu_stub.c"
  rm "$tmp/icu_stub.c"
fi
cp "$here/run_device.sh" "$tmp/"
tar -C "$tmp" -cJf "$out" .
echo "$out: $(du -h "$out" | cut -f1) (${#targets[@]} targets, $(ls "$tmp/lib" | wc -l) libraries)"
