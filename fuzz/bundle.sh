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
cp "$here/run_device.sh" "$tmp/"
tar -C "$tmp" -cJf "$out" .
echo "$out: $(du -h "$out" | cut -f1) (${#targets[@]} targets, $(ls "$tmp/lib" | wc -l) libraries)"
