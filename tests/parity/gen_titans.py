#!/usr/bin/env python3
"""Golden values for Tessera's Titans layers against a PyTorch reference written from the facts in
../shared/papers/titans.md (not from any repository), with the module names of nn/titans/ so a
Tessera state_dict loads here with strict=True and the other way round.

Writes (regenerate with: /usr/bin/python3 tests/parity/gen_titans.py):
  golden/titans.h5  one group per case (CASES below). Each group holds the weights (w/<key>), the
                    input x, a fixed cotangent `probe`, and in float64 the output y, the gradient of
                    sum(y * probe) w.r.t. x (grad_x) and every parameter (grad/<key>). Cases that carry
                    a memory state over two calls store x0 (the first call's input) as well.

The reference NeuralMemory here is the plain recursion of the paper, token by token:
  r_t = M_{W0}(q_t)                              W0 = the weights at the start of t's chunk
  u_t = grad_W ||M_W(k_t) - v_t||^2 / d at W0     (torch.autograd.grad, create_graph=True)
  S_t = eta_t S_{t-1} - theta_t u_t;  M_t = (1 - alpha_t) M_{t-1} + S_t
so it shares nothing with Tessera's chunked closed form but the definitions. `ChunkedMemory` is
the same layer computed the way Tessera does (per chunk, batched matmuls with per-token weights);
main() checks it against the recursion, and `--bench T` times a training step of it for
experiments/titans/BENCH.md (same threads as `tessera bench neural_memory`).

Definitions (nn/titans/neural_memory.h): q/k/v = SiLU(causal depthwise conv(Linear(x))) per head,
q and k l2-normalised (F.normalize); theta = max_lr sigmoid(to_theta(x)) per token; eta =
sigmoid(to_eta(.)), alpha = sigmoid(to_alpha(.)) of x per token, or of the chunk-mean of x per chunk
(chunks aligned with the call's start); memory MLP W_L silu(... silu(W_1 k)), weights [heads, out,
in] initialised from the parameters init_w<l>; output to_out(RMSNorm_head(r) * sigmoid(to_gate(x)))
with the RMSNorm (eps 1e-6) over each head's features.

To add a case (part B appends its blocks): build the module, call write_case(f, name, module,
inputs, run) with run(module, inputs) -> output, and add the matching test in test_parity_titans.cpp.
"""
import argparse
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalConv1d(nn.Module):
    """Depthwise Conv1d over time of [B, T, C] with K - 1 zeros of left padding."""

    def __init__(self, c, k):
        super().__init__()
        self.k = k
        self.weight = nn.Parameter(torch.empty(c, 1, k).uniform_(-1 / math.sqrt(k), 1 / math.sqrt(k)))

    def forward(self, x, history=None):
        t = x.shape[1]
        pad = history if history is not None else x.new_zeros(x.shape[0], self.k - 1, x.shape[2])
        xp = torch.cat([pad, x], 1).transpose(1, 2)
        return F.conv1d(xp, self.weight, groups=x.shape[2])[:, :, :t].transpose(1, 2)


class NeuralMemory(nn.Module):
    def __init__(self, dim, heads=1, depth=2, expansion=4, chunk_size=16, momentum=True, weight_decay=True,
                 gates="token", max_lr=0.1, conv_kernel=4):
        super().__init__()
        self.dim, self.heads, self.depth, self.chunk = dim, heads, depth, chunk_size
        self.d = d = dim // heads
        hid = expansion * d
        self.gates, self.max_lr = gates, max_lr
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.conv_kernel = conv_kernel
        if conv_kernel > 0:
            self.conv_q, self.conv_k, self.conv_v = (CausalConv1d(dim, conv_kernel) for _ in range(3))
        self.to_theta = nn.Linear(dim, heads)
        self.to_eta = nn.Linear(dim, heads) if momentum else None
        self.to_alpha = nn.Linear(dim, heads) if weight_decay else None
        for l in range(depth):
            i, o = (d if l == 0 else hid), (d if l == depth - 1 else hid)
            self.register_parameter(f"init_w{l}", nn.Parameter(torch.empty(heads, o, i).uniform_(-1 / math.sqrt(i),
                                                                                                   1 / math.sqrt(i))))
        self.out_norm = nn.Module()
        self.out_norm.weight = nn.Parameter(torch.ones(d))
        self.to_gate = nn.Linear(dim, dim)
        self.to_out = nn.Linear(dim, dim, bias=False)

    # ---- inputs -------------------------------------------------------------------------------
    def heads_of(self, t):  # [B, T, dim] -> [B*H, T, d]
        b, n, _ = t.shape
        return t.view(b, n, self.heads, self.d).permute(0, 2, 1, 3).reshape(b * self.heads, n, self.d)

    def gate(self, lin, x, per_chunk):  # -> [B*H, T]
        b, n, _ = x.shape
        if per_chunk:
            parts = []
            for s in range(0, n, self.chunk):
                xc = x[:, s:s + self.chunk]
                parts.append(lin(xc.mean(1, keepdim=True)).expand(b, xc.shape[1], self.heads))
            z = torch.cat(parts, 1)
        else:
            z = lin(x)
        return z.permute(0, 2, 1).reshape(b * self.heads, n)

    def inputs(self, x, state):
        def branch(lin, conv, hist):
            p = lin(x)
            if self.conv_kernel > 0:
                p = conv(p, hist)
            return self.heads_of(F.silu(p))

        c = state.get("conv", (None, None, None)) if self.conv_kernel > 0 else (None, None, None)
        q = F.normalize(branch(self.to_q, getattr(self, "conv_q", None), c[0]), dim=-1, eps=1e-12)
        k = F.normalize(branch(self.to_k, getattr(self, "conv_k", None), c[1]), dim=-1, eps=1e-12)
        v = branch(self.to_v, getattr(self, "conv_v", None), c[2])
        theta = self.max_lr * torch.sigmoid(self.gate(self.to_theta, x, False))
        per_chunk = self.gates == "chunk"
        eta = torch.sigmoid(self.gate(self.to_eta, x, per_chunk)) if self.to_eta is not None else torch.zeros_like(theta)
        alpha = torch.sigmoid(self.gate(self.to_alpha, x, per_chunk)) if self.to_alpha is not None \
            else torch.zeros_like(theta)
        return q, k, v, theta, eta, alpha

    def initial_state(self, b):
        ws = [getattr(self, f"init_w{l}") for l in range(self.depth)]
        return {"W": [w.unsqueeze(0).expand(b, *w.shape).reshape(b * w.shape[0], *w.shape[1:]) for w in ws],
                "S": [torch.zeros(b * w.shape[0], *w.shape[1:], dtype=w.dtype) for w in ws]}

    def memory(self, ws, h):
        for l, w in enumerate(ws):
            h = h @ w.transpose(1, 2)
            if l + 1 < len(ws):
                h = F.silu(h)
        return h

    def output(self, r, x):
        b, n, _ = x.shape
        r = r * torch.rsqrt(r.pow(2).mean(-1, keepdim=True) + 1e-6) * self.out_norm.weight
        r = r.view(b, self.heads, n, self.d).permute(0, 2, 1, 3).reshape(b, n, self.dim)
        return self.to_out(r * torch.sigmoid(self.to_gate(x)))

    def next_conv(self, x, state):
        if self.conv_kernel == 0:
            return None
        old = state.get("conv", (None, None, None))
        out = []
        for lin, h in ((self.to_q, old[0]), (self.to_k, old[1]), (self.to_v, old[2])):
            p = lin(x)
            pad = h if h is not None else p.new_zeros(p.shape[0], self.conv_kernel - 1, p.shape[2])
            out.append(torch.cat([pad, p], 1)[:, -(self.conv_kernel - 1):])
        return tuple(out)

    # ---- the recursion ------------------------------------------------------------------------
    def forward(self, x, state=None):
        state = state if state is not None else {}
        b, n, _ = x.shape
        if "W" not in state:
            state.update(self.initial_state(b))
        q, k, v, theta, eta, alpha = self.inputs(x, state)
        W, S = list(state["W"]), list(state["S"])
        reads = []
        for t in range(n):
            if t % self.chunk == 0:
                # A fresh alias of the chunk-start weights: the inner gradient is the partial derivative
                # of l(M; x_t) w.r.t. the memory weights at fixed k_t, v_t. In MAC the keys and values
                # themselves depend on these weights (the segment's retrieval feeds the attention that
                # produces y), and grad w.r.t. W itself would add that path too.
                W0 = [w.view_as(w) for w in W]
            reads.append(self.memory(W0, q[:, t:t + 1]))
            loss = (self.memory(W0, k[:, t:t + 1]) - v[:, t:t + 1]).pow(2).sum() / self.d
            u = torch.autograd.grad(loss, W0, create_graph=True)
            for l in range(self.depth):
                S[l] = eta[:, t].view(-1, 1, 1) * S[l] - theta[:, t].view(-1, 1, 1) * u[l]
                W[l] = (1 - alpha[:, t]).view(-1, 1, 1) * W[l] + S[l]
        y = self.output(torch.cat(reads, 1), x)
        state["conv"] = self.next_conv(x, state)
        state["W"], state["S"] = W, S
        return y


class ChunkedMemory(NeuralMemory):
    """The same layer, chunked: per chunk one batched forward at the chunk-start weights, inner
    gradients as matmuls with per-token weights, momentum and decay in closed form."""

    def forward(self, x, state=None):
        state = state if state is not None else {}
        b, n, _ = x.shape
        if "W" not in state:
            state.update(self.initial_state(b))
        q, k, v, theta, eta, alpha = self.inputs(x, state)
        W, S = list(state["W"]), list(state["S"])
        reads = []
        for s in range(0, n, self.chunk):
            c = min(self.chunk, n - s)
            kc, vc, qc = k[:, s:s + c], v[:, s:s + c], q[:, s:s + c]
            hs, acts, h = [], [], torch.cat([kc, qc], 1)
            for l, w in enumerate(W):
                hs.append(h[:, :c])
                a = h @ w.transpose(1, 2)
                acts.append(a[:, :c])
                h = F.silu(a) if l + 1 < len(W) else a
            reads.append(h[:, c:])
            # Coefficients with explicit cumulative products (eta > 0 here).
            P = torch.cumprod(eta[:, s:s + c], 1)
            beta = torch.cumprod(1 - alpha[:, s:s + c], 1)
            th = theta[:, s:s + c]
            ratio = (beta[:, -1:] / beta)  # beta_b / beta_t
            w_s = th * P[:, -1:] / P
            w_m = th * torch.einsum("nt,nti->ni", ratio * P, torch.tril(1 / P.unsqueeze(1).expand(-1, c, -1)))
            s0 = (ratio * P).sum(1).view(-1, 1, 1)
            delta = (acts[-1] - vc) * (2.0 / self.d)
            for l in reversed(range(len(W))):
                g_s = (delta * w_s.unsqueeze(-1)).transpose(1, 2) @ hs[l]
                g_m = (delta * w_m.unsqueeze(-1)).transpose(1, 2) @ hs[l]
                if l > 0:
                    sg = torch.sigmoid(acts[l - 1])
                    delta = (delta @ W[l]) * (sg * (1 + acts[l - 1] * (1 - sg)))
                W[l], S[l] = beta[:, -1].view(-1, 1, 1) * W[l] + s0 * S[l] - g_m, P[:, -1].view(-1, 1, 1) * S[l] - g_s
        y = self.output(torch.cat(reads, 1), x)
        state["conv"] = self.next_conv(x, state)
        state["W"], state["S"] = W, S
        return y


# ---- golden cases ---------------------------------------------------------------------------------
def memory_case(opts, B, T, carried, seed):
    torch.manual_seed(seed)
    m = NeuralMemory(**opts).double()
    with torch.no_grad():
        if m.to_alpha is not None:
            m.to_alpha.bias.fill_(-1.5)
        m.out_norm.weight.uniform_(0.5, 1.5)
    x = torch.randn(B, T, opts["dim"], dtype=torch.float64)
    inputs = {"x": x}
    if carried:
        inputs["x0"] = torch.randn(B, opts["chunk_size"], opts["dim"], dtype=torch.float64)

    def run(mod, inp):
        st = {}
        if "x0" in inp:
            mod(inp["x0"], st)
        return mod(inp["x"], st)

    return m, inputs, run


CASES = {
    # name: (options, B, T, carry a state from a first call)
    "lmm_deep_token": (dict(dim=8, heads=2, depth=2, expansion=2, chunk_size=4, max_lr=0.5, conv_kernel=3), 2, 10,
                       False),
    "lmm_linear_chunk": (dict(dim=8, heads=2, depth=1, chunk_size=3, gates="chunk", max_lr=0.5, conv_kernel=2), 2, 8,
                         False),
    "lmm_deep_carried": (dict(dim=8, heads=1, depth=2, expansion=2, chunk_size=2, max_lr=0.5, conv_kernel=2), 1, 6,
                         True),
    "lmm_no_momentum_decay": (dict(dim=8, heads=2, depth=2, expansion=2, chunk_size=3, momentum=False,
                                   weight_decay=False, max_lr=0.5, conv_kernel=0), 2, 7, False),
}


def write_case(f, name, m, inputs, run):
    """Stores weights, inputs, a probe, the output and the gradients of sum(y * probe)."""
    def put(key, t):
        f.create_dataset(f"{name}/{key}", data=t.detach().numpy())

    for k, t in m.state_dict().items():
        put(f"w/{k}", t)
    for k, t in inputs.items():
        put(k, t)
    x = inputs["x"].clone().requires_grad_(True)
    y = run(m, {**inputs, "x": x})
    probe = torch.randn(y.shape, dtype=y.dtype)
    put("probe", probe)
    put("y", y)
    params = dict(m.named_parameters())
    grads = torch.autograd.grad((y * probe).sum(), [x] + list(params.values()))
    put("grad_x", grads[0])
    for (k, _), g in zip(params.items(), grads[1:]):
        put(f"grad/{k}", g)
    return y


def check_chunked(m, inputs, run, name):
    """The chunked torch layer equals the recursion (needs eta > 0 for its explicit ratios)."""
    if m.to_eta is None:
        return
    c = ChunkedMemory.__new__(ChunkedMemory)
    c.__dict__ = m.__dict__
    a, b = run(m, inputs), run(c, inputs)
    err = (a - b).abs().max().item()
    assert err < 1e-10, f"{name}: chunked torch layer differs from the recursion by {err}"


def bench(T, dim, threads, iters):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = ChunkedMemory(dim=dim, heads=4, depth=2, expansion=4, chunk_size=16, max_lr=0.1, conv_kernel=4)
    x = torch.randn(1, T, dim)
    times = []
    for i in range(iters + 1):
        t0 = time.perf_counter()
        m.zero_grad()
        m(x).square().mean().backward()
        times.append(time.perf_counter() - t0)
    med = sorted(times[1:])[len(times[1:]) // 2]
    print(f"torch neural_memory T={T} dim={dim} heads=4 depth=2 chunk=16 threads={threads}: "
          f"step_ms={med * 1e3:.1f} tokens_per_s={T / med:.0f} (torch {torch.__version__})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", type=int, nargs="*", help="time training steps at these T instead")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    a = ap.parse_args()
    if a.bench:
        for T in a.bench:
            bench(T, a.dim, a.threads, a.iters)
        return
    import h5py
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "golden", "titans.h5")
    f = h5py.File(path + ".tmp", "w")
    for i, (name, (opts, B, T, carried)) in enumerate(CASES.items()):
        m, inputs, run = memory_case(opts, B, T, carried, seed=100 + i)
        check_chunked(m, inputs, run, name)
        write_case(f, name, m, inputs, run)
    f.close()
    os.replace(path + ".tmp", path)
    print("wrote", path)


if __name__ == "__main__":
    main()
