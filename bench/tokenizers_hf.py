"""Hugging Face tokenizers on WikiText-2-raw validation with the committed vocabularies, single-threaded
(RAYON_NUM_THREADS=1; encode() of one string does not parallelise anyway), for comparison with
build/bench/tessera_bench_tokenizers. Run with the venv of `make golden-tokenizers`:
  RAYON_NUM_THREADS=1 build/venv-tokenizers/bin/python bench/tokenizers_hf.py [WIKITEXT_RAW_DIR]"""
import os
import sys
import time

from tokenizers import BertWordPieceTokenizer, ByteLevelBPETokenizer

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
raw = sys.argv[1] if len(sys.argv) > 1 else os.path.join(repo, "..", "shared", "data", "wikitext-2", "wikitext-2-raw")
v = os.path.join(repo, "tests", "data", "golden", "tokenizers")
text = open(os.path.join(raw, "wiki.valid.raw"), encoding="utf-8").read()
mb = len(text.encode("utf-8")) / 1e6
for name, tok, kw in [("byte_bpe", ByteLevelBPETokenizer(f"{v}/bpe-vocab.json", f"{v}/bpe-merges.txt"), {}),
                      ("wordpiece", BertWordPieceTokenizer(f"{v}/wordpiece-vocab.txt", lowercase=True), {"add_special_tokens": False})]:
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        n = len(tok.encode(text, **kw).ids)
        best = min(best, time.perf_counter() - t)
    print(f"{name}, one string: {best * 1e3:.0f} ms, {mb / best:.2f} MB/s, {n} tokens")
    lines = text.splitlines(keepends=True)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        n = sum(len(e.ids) for e in tok.encode_batch(lines, **kw))
        best = min(best, time.perf_counter() - t)
    print(f"{name}, encode_batch of its {len(lines)} lines: {best * 1e3:.0f} ms, {mb / best:.2f} MB/s, {n} tokens")
