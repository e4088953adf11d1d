#!/usr/bin/env python3
"""Golden values for the text metrics (experiments/text_metrics.h): Pearson and Spearman correlation
from scipy.stats (ties averaged), binary F1 from its definition on torch arg-max predictions, and
perplexity / bits per token from torch's cross_entropy.
Regenerate with: python3 tests/parity/gen_text_metrics.py  (Debian python3-torch, python3-h5py, python3-scipy)."""
import math
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

rng = np.random.default_rng(0)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "text_metrics.h5")
f = h5py.File(out + ".tmp", "w")

# STS-B-like scores: targets on a 0..5 grid with many ties, predictions noisy (some tied too).
for name, n in [("corr_small", 7), ("corr_ties", 300)]:
    target = np.round(rng.uniform(0, 5, n) * 5) / 5
    pred = target + rng.normal(0, 1.0, n)
    if name == "corr_ties":
        pred[::7] = 2.5
    f.create_dataset(f"{name}/pred", data=pred)
    f.create_dataset(f"{name}/target", data=target)
    f.create_dataset(f"{name}/pearson", data=stats.pearsonr(pred, target)[0])
    f.create_dataset(f"{name}/spearman", data=stats.spearmanr(pred, target)[0])

# MRPC-like binary classification.
logits = torch.tensor(rng.normal(0, 1, (200, 2)))
labels = torch.tensor(rng.integers(0, 2, 200))
pred = logits.argmax(1)
tp = int(((pred == 1) & (labels == 1)).sum()); fp = int(((pred == 1) & (labels == 0)).sum())
fn = int(((pred == 0) & (labels == 1)).sum())
f.create_dataset("f1/logits", data=logits.numpy())
f.create_dataset("f1/labels", data=labels.numpy())
f.create_dataset("f1/f1", data=2 * tp / (2 * tp + fp + fn))
f.create_dataset("f1/precision", data=tp / (tp + fp))
f.create_dataset("f1/recall", data=tp / (tp + fn))

# Language-model logits [N, T, V] and targets [N, T].
lm = torch.tensor(rng.normal(0, 2, (3, 5, 11)))
tgt = torch.tensor(rng.integers(0, 11, (3, 5)))
nll = F.cross_entropy(lm.reshape(-1, 11), tgt.reshape(-1)).item()
f.create_dataset("lm/logits", data=lm.numpy())
f.create_dataset("lm/targets", data=tgt.numpy())
f.create_dataset("lm/perplexity", data=math.exp(nll))
f.create_dataset("lm/bits_per_token", data=nll / math.log(2))
f.close()
os.replace(out + ".tmp", out)
print(out)
