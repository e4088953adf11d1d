#!/usr/bin/env bash
# Condenses a TESSERA_PROFILE_TRACE=1 log (stdin) of a conv net into ms per step by convolution kind: the layout
# reorders into oneDNN's layouts, the primitive itself, the reorder of its output back to PyTorch's layout.
awk '/^trace conv/ { kind=$8; for(i=1;i<=NF;i++) { split($i,x,"="); if (x[1]=="reorder_in"||x[1]=="onednn"||x[1]=="reorder_out") { split(x[2],y,"ms/"); t[kind" "x[1]]+=y[1]; tot[x[1]]+=y[1] } } n[kind]++ }
  END { for (k in n) printf "%-14s calls %3d  reorder_in %7.2f ms  onednn %7.2f ms  reorder_out %7.2f ms\n", k, n[k], t[k" reorder_in"], t[k" onednn"], t[k" reorder_out"];
        printf "%-14s            reorder_in %7.2f ms  onednn %7.2f ms  reorder_out %7.2f ms\n", "all", tot["reorder_in"], tot["onednn"], tot["reorder_out"] }'
