#!/usr/bin/env bash
# Condenses a TESSERA_PROFILE_TRACE=1 log (stdin) into one row per product shape/layout: calls, mean ms
# per call, mean oneDNN ms and minor faults per call.
awk '/^trace/ && /matmul/ { key=""; for(i=1;i<=NF;i++){ if($i ~ /^(M=|N=|K=|a=|b=|bias)/) key=key" "$i }
  od=0; of=0; for(i=1;i<=NF;i++) if ($i ~ /^onednn=/) { split($i,x,"="); split(x[2],y,"ms/"); od=y[1]; of=y[2]+0 }
  for(i=1;i<=NF;i++) if($i=="ms") ms=$(i-1)
  n[key]++; t[key]+=ms; o[key]+=od; f[key]+=of }
  END { for (k in n) printf "%3d %8.3f ms/call  onednn %8.3f ms %6.0f faults/call %s\n", n[k], t[k]/n[k], o[k]/n[k], f[k]/n[k], k }' | sort -k2 -rn
