"""Reference ids for Tessera's byte-level BPE and WordPiece (tests/data/test_tokenizers.cpp).

Trains, with Hugging Face `tokenizers` (PyPI; `make golden-tokenizers` installs it into a venv
under the build folder), a byte-level BPE (vocab 8000) and a BERT WordPiece vocabulary (8000,
lower-cased) on WikiText-2-raw train, writes their files to tests/data/golden/tokenizers/
(committed, small) and the ids of the whole WikiText-2-raw validation split, encoded as one
string, to <build>/golden/tokenizers/*.ids.gz (one id per line; not committed, 2 x ~1 MB).

usage: python gen_tokenizers.py [WIKITEXT_RAW_DIR] [BUILD_DIR]
"""
import gzip
import os
import sys

from tokenizers import BertWordPieceTokenizer, ByteLevelBPETokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
raw = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "..", "shared", "data", "wikitext-2", "wikitext-2-raw")
build = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, "build")
train, valid = os.path.join(raw, "wiki.train.raw"), os.path.join(raw, "wiki.valid.raw")
if not os.path.exists(train):
    sys.exit(f"gen_tokenizers.py: {train} not found (WikiText-2 raw is data a user brings)")
vocab_dir = os.path.join(HERE, "golden", "tokenizers")
ids_dir = os.path.join(build, "golden", "tokenizers")
os.makedirs(vocab_dir, exist_ok=True)
os.makedirs(ids_dir, exist_ok=True)

# Byte-level BPE as GPT-2/RoBERTa: no prefix space; the special tokens take ids 0..3 (they never
# occur in WikiText, so encoding never matches them).
bpe = ByteLevelBPETokenizer(add_prefix_space=False)
bpe.train([train], vocab_size=8000, min_frequency=2, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False)
bpe.save_model(vocab_dir, "bpe")  # bpe-vocab.json, bpe-merges.txt
bpe = ByteLevelBPETokenizer(os.path.join(vocab_dir, "bpe-vocab.json"), os.path.join(vocab_dir, "bpe-merges.txt"),
                            add_prefix_space=False)

wp = BertWordPieceTokenizer(lowercase=True)  # [PAD] [UNK] [CLS] [SEP] [MASK] first
wp.train([train], vocab_size=8000, min_frequency=2, show_progress=False)
wp.save_model(vocab_dir, "wordpiece")  # wordpiece-vocab.txt
wp = BertWordPieceTokenizer(os.path.join(vocab_dir, "wordpiece-vocab.txt"), lowercase=True)

text = open(valid, encoding="utf-8").read()
for name, ids in [("bpe", bpe.encode(text).ids), ("wordpiece", wp.encode(text, add_special_tokens=False).ids)]:
    path = os.path.join(ids_dir, f"wiki.valid.{name}.ids.gz")
    with gzip.open(path, "wt") as f:
        f.write("\n".join(map(str, ids)) + "\n")
    print(f"{path}: {len(ids)} ids")
# A short text with the cases the pre-tokenisers distinguish, for a test that needs no data.
sample = ("Hello world! It's 2024, they'll've   spaces\tand\nnewlines  \n\n Café naïve ÉCOLE straße "
          "日本語 テキスト ¿Qué? 3.14159 — “quotes” <tag> don't 'quoted' x\u00a0y \u2028 end  ")
with open(os.path.join(vocab_dir, "sample.txt"), "w", encoding="utf-8") as f:
    f.write(sample)
with open(os.path.join(vocab_dir, "sample.ids"), "w") as f:
    f.write(" ".join(map(str, bpe.encode(sample).ids)) + "\n")
    f.write(" ".join(map(str, wp.encode(sample, add_special_tokens=False).ids)) + "\n")
print("tokenizers", __import__("tokenizers").__version__)
