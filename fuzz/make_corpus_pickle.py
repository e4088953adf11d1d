#!/usr/bin/python3
"""Seed corpus of fuzz/cifar_pickle.cpp: CIFAR python batches as numpy pickles them.

Usage: /usr/bin/python3 fuzz/make_corpus_pickle.py fuzz/corpus/cifar_pickle
One image per batch keeps the seeds small; protocols 2 (what Python 3 re-pickles of the original
batches use: _codecs.encode for the bytes) and 4 (frames, memoize, short binunicode), CIFAR-10 and
CIFAR-100 keys, plus the original Python 2 cPickle layout written out opcode by opcode.
"""
import os
import pickle
import struct
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
pixels = (np.arange(3072, dtype=np.int64) * 37 % 256).astype(np.uint8).reshape(1, 3072)
cifar10 = {b"batch_label": b"training batch 1 of 5", b"labels": [6], b"data": pixels, b"filenames": [b"frog_1.png"]}
cifar100 = {b"filenames": [b"cattle_s_1.png"], b"batch_label": b"training batch 1 of 1", b"fine_labels": [19],
            b"coarse_labels": [11], b"data": pixels}
for proto in (2, 4):
    with open(os.path.join(out, f"cifar10_p{proto}.pkl"), "wb") as f:
        pickle.dump(cifar10, f, protocol=proto)
    with open(os.path.join(out, f"cifar100_p{proto}.pkl"), "wb") as f:
        pickle.dump(cifar100, f, protocol=proto)


def sbs(s):  # SHORT_BINSTRING, as Python 2 wrote str
    return b"U" + bytes([len(s)]) + s


# Python 2 cPickle, protocol 2, as the distributed CIFAR-10 batches were written.
py2 = (b"\x80\x02}q\x01(" + sbs(b"data") + b"q\x02cnumpy.core.multiarray\n_reconstruct\nq\x03cnumpy\nndarray\nq\x04"
       b"K\x00\x85" + sbs(b"b") + b"\x87Rq\x05(K\x01K\x01M\x00\x0c\x86cnumpy\ndtype\nq\x06" + sbs(b"u1") +
       b"K\x00K\x01\x87Rq\x07(K\x03" + sbs(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T" +
       struct.pack("<I", 3072) + pixels.tobytes() + b"tb" + sbs(b"labels") + b"]q\x08(K\x06e" +
       sbs(b"batch_label") + sbs(b"training batch 1 of 5") + b"u.")
with open(os.path.join(out, "cifar10_py2.pkl"), "wb") as f:
    f.write(py2)
