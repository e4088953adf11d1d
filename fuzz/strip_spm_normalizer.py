# Rewrites a sentencepiece ModelProto without the precompiled NFKC charsmap (normalizer_spec field 2),
# normaliser renamed "identity", for a small fuzz seed.
import sys
def varint(b, i):
    r = s = 0
    while True:
        x = b[i]; i += 1; r |= (x & 0x7f) << s; s += 7
        if x < 0x80: return r, i
def enc(n):
    o = bytearray()
    while True:
        x = n & 0x7f; n >>= 7
        if n: o.append(x | 0x80)
        else: o.append(x); return bytes(o)
def fields(b):
    i = 0
    while i < len(b):
        k, j = varint(b, i); wt = k & 7
        if wt == 0: _, e = varint(b, j)
        elif wt == 2: n, j2 = varint(b, j); e = j2 + n
        elif wt == 1: e = j + 8
        elif wt == 5: e = j + 4
        else: raise SystemExit("wire type %d" % wt)
        yield k >> 3, wt, b[i:e], (b[j2:e] if wt == 2 else None)
        i = e
m = open(sys.argv[1], 'rb').read()
out = bytearray()
for f, wt, raw, payload in fields(m):
    if f == 3 and wt == 2:
        ns = bytearray()
        for g, wt2, raw2, p2 in fields(payload):
            if g == 2: continue
            if g == 1: ns += enc(1 << 3 | 2) + enc(8) + b"identity"; continue
            ns += raw2
        out += enc(3 << 3 | 2) + enc(len(ns)) + ns
    else:
        out += raw
open(sys.argv[2], 'wb').write(out)
