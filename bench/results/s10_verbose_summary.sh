#!/usr/bin/env bash
# Sums oneDNN verbose exec lines (files given as arguments; oneDNN 2.x and 3.x "v1" formats) by primitive kind,
# implementation and propagation kind: total ms and count.
for f in "$@"; do echo "== $f"
  awk 'BEGIN{FS=","} { t=$NF; if ($2=="v1") {k=$6; i=$7; p=$8} else {k=$4; i=$5; p=$6}; s[k" "i" "p]+=t; c[k" "i" "p]++ }
       END {for (x in s) printf "%9.1f ms %5d  %s\n", s[x], c[x], x}' "$f" | sort -rn | head -12
done
