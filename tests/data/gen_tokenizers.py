"""Reference ids for Tessera's byte-level BPE and WordPiece (tests/data/test_tokenizers.cpp).

Trains, with Hugging Face `tokenizers` (PyPI; `make golden-tokenizers` installs it into a venv
under the build folder), a byte-level BPE (vocab 8000) and a BERT WordPiece vocabulary (8000,
lower-cased) on WikiText-2-raw train, writes their files to tests/data/golden/tokenizers/
(committed, small) and the ids of the whole WikiText-2-raw validation split, encoded as one
string, to <build>/golden/tokenizers/*.ids.gz (one id per line; not committed, 2 x ~1 MB) and their
digest (id count + a hash per block of 4096 ids) to tests/data/golden/tokenizers/wiki.valid.digest
(committed, a few KB), which the test compares with when the ids are absent (`make test` runs no PyPI).

usage: python gen_tokenizers.py [--ids-only] [WIKITEXT_RAW_DIR] [BUILD_DIR]
  --ids-only: no training; the ids and digest under the committed vocabularies.
"""
import gzip
import os
import sys

from tokenizers import BertWordPieceTokenizer, ByteLevelBPETokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ids_only = "--ids-only" in sys.argv
args = [a for a in sys.argv[1:] if a != "--ids-only"]
raw = args[0] if len(args) > 0 else os.path.join(REPO, "..", "shared", "data", "wikitext-2", "wikitext-2-raw")
build = args[1] if len(args) > 1 else os.path.join(REPO, "build")
train, valid = os.path.join(raw, "wiki.train.raw"), os.path.join(raw, "wiki.valid.raw")
if not os.path.exists(train):
    sys.exit(f"gen_tokenizers.py: {train} not found (WikiText-2 raw is data a user brings)")
vocab_dir = os.path.join(HERE, "golden", "tokenizers")
ids_dir = os.path.join(build, "golden", "tokenizers")
os.makedirs(vocab_dir, exist_ok=True)
os.makedirs(ids_dir, exist_ok=True)

# Byte-level BPE as GPT-2/RoBERTa: no prefix space; the special tokens take ids 0..3 (they never
# occur in WikiText, so encoding never matches them).
if not ids_only:
    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train([train], vocab_size=8000, min_frequency=2, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False)
    bpe.save_model(vocab_dir, "bpe")  # bpe-vocab.json, bpe-merges.txt
bpe = ByteLevelBPETokenizer(os.path.join(vocab_dir, "bpe-vocab.json"), os.path.join(vocab_dir, "bpe-merges.txt"),
                            add_prefix_space=False)

if not ids_only:
    wp = BertWordPieceTokenizer(lowercase=True)  # [PAD] [UNK] [CLS] [SEP] [MASK] first
    wp.train([train], vocab_size=8000, min_frequency=2, show_progress=False)
    wp.save_model(vocab_dir, "wordpiece")  # wordpiece-vocab.txt
wp = BertWordPieceTokenizer(os.path.join(vocab_dir, "wordpiece-vocab.txt"), lowercase=True)



def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


# The committed digest (wiki.valid.digest) lets `make test` compare the whole split without PyPI
# and without committing derived data: per tokenizer the id count and an FNV-1a 64 hash of every
# block of DIGEST_BLOCK ids written as "<id>\n" (so a mismatch is located to a block).
DIGEST_BLOCK = 4096
text = open(valid, encoding="utf-8").read()
digest = ["# tests/data/gen_tokenizers.py: WikiText-2-raw wiki.valid.raw encoded as one string, tokenizers " +
          __import__("tokenizers").__version__,
          f"# <tokenizer> <id count> <block size>, then one FNV-1a 64 hash (hex) per block of ids as '<id>\\n'"]
for name, ids in [("bpe", bpe.encode(text).ids), ("wordpiece", wp.encode(text, add_special_tokens=False).ids)]:
    path = os.path.join(ids_dir, f"wiki.valid.{name}.ids.gz")
    with gzip.open(path, "wt") as f:
        f.write("\n".join(map(str, ids)) + "\n")
    print(f"{path}: {len(ids)} ids")
    digest.append(f"{name} {len(ids)} {DIGEST_BLOCK}")
    for i in range(0, len(ids), DIGEST_BLOCK):
        block = "".join(f"{v}\n" for v in ids[i:i + DIGEST_BLOCK]).encode()
        digest.append(f"{fnv1a64(block):016x}")
with open(os.path.join(vocab_dir, "wiki.valid.digest"), "w") as f:
    f.write("\n".join(digest) + "\n")
if ids_only:
    sys.exit(0)
# A short text with the cases the pre-tokenisers distinguish, for a test that needs no data.
sample = ("Hello world! It's 2024, they'll've   spaces\tand\nnewlines  \n\n Café naïve ÉCOLE straße "
          "日本語 テキスト ¿Qué? 3.14159 — “quotes” <tag> don't 'quoted' x\u00a0y \u2028 end  ")
with open(os.path.join(vocab_dir, "sample.txt"), "w", encoding="utf-8") as f:
    f.write(sample)
with open(os.path.join(vocab_dir, "sample.ids"), "w") as f:
    f.write(" ".join(map(str, bpe.encode(sample).ids)) + "\n")
    f.write(" ".join(map(str, wp.encode(sample, add_special_tokens=False).ids)) + "\n")
print("tokenizers", __import__("tokenizers").__version__)
