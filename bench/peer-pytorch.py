#!/usr/bin/env python3
# The peer of `heatdeath bench --size small`: a nanoGPT-style GPT of the same shape in PyTorch
# (d_model 128, 2 layers, 4 heads, context 64, 4x GELU MLP, pre-LayerNorm, bias-free linear
# layers, vocabulary 30, Adam with betas 0.9/0.99), trained on rows of 32 x 64 random tokens, and
# sampled at batch 64 on a KV cache. Prints one JSON document like `bench --json`'s figures.
#
#   python3 bench/peer-pytorch.py --threads 1|2 [--steps 7] [--warmup 3] [--rounds 3]
#
# Training tokens/s: the median of --steps single optimizer steps after --warmup (a token is a
# trained position: 2,048 a step, as in `bench`). Sampling tokens/s: 64 sequences decoded
# together for 63 new tokens each from BOS on the cache (no document ever ends early, so every
# step runs a full batch: a generous count for the peer), median of --rounds rounds. Both also per
# CPU-second of the process (time.process_time, all threads), which a busy machine depresses less.
# PyTorch from Debian: apt-get install python3-torch libopenblas0-openmp. Without the OpenBLAS
# package Debian's torch links the reference BLAS (libblas3) and trains ~7x slower; the JSON
# names the BLAS the process loaded. productsGflops: the rate of a training step's forward products
# alone (bench/ceiling.ts times the same shapes in wasm, and the wasm multiply-add peak).

import argparse
import json
import math
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, D, L, H, T, B = 30, 128, 2, 4, 64, 32


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.qkv = nn.Linear(D, 3 * D, bias=False)
        self.proj = nn.Linear(D, D, bias=False)
        self.ln2 = nn.LayerNorm(D)
        self.fc = nn.Linear(D, 4 * D, bias=False)
        self.out = nn.Linear(4 * D, D, bias=False)

    def attend(self, x, cache=None):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).split(D, dim=2)
        q, k, v = (z.view(b, t, H, D // H).transpose(1, 2) for z in (q, k, v))
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, 'scaled_dot_product_attention') else self.masked(q, k, v)
        else:
            pos = cache['len']
            cache['k'][:, :, pos : pos + t] = k
            cache['v'][:, :, pos : pos + t] = v
            k, v = cache['k'][:, :, : pos + t], cache['v'][:, :, : pos + t]
            y = F.softmax((q @ k.transpose(-2, -1)) / math.sqrt(D // H), dim=-1) @ v
        return self.proj(y.transpose(1, 2).contiguous().view(b, t, D))

    @staticmethod
    def masked(q, k, v):
        t = q.shape[2]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        att = att.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float('-inf'))
        return F.softmax(att, dim=-1) @ v

    def forward(self, x, cache=None):
        x = x + self.attend(self.ln1(x), cache)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, D)
        self.wpe = nn.Embedding(T, D)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.lnf = nn.LayerNorm(D)
        self.head = nn.Linear(D, V, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, pos0=0, caches=None):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(pos0, pos0 + t))
        for i, blk in enumerate(self.blocks):
            x = blk(x, None if caches is None else caches[i])
        return self.head(self.lnf(x))


def rates(tokens, walls, cpus):
    """Tokens per wall-clock second and per CPU-second of this process (all its threads), medians."""
    return {'tokensPerSecond': round(tokens / statistics.median(walls)), 'cpuTokensPerSecond': round(tokens / statistics.median(cpus))}


def train_rate(model, steps, warmup):
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.9, 0.99), eps=1e-8)
    g = torch.Generator().manual_seed(1)
    walls, cpus = [], []
    for i in range(warmup + steps):
        x = torch.randint(2, V, (B, T), generator=g)
        y = torch.randint(2, V, (B, T), generator=g)
        t0, c0 = time.perf_counter(), time.process_time()
        loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return rates(B * T, walls[warmup:], cpus[warmup:])


@torch.inference_mode()
def sample_rate(model, rounds, batch=64, new=T - 1):
    walls, cpus = [], []
    for r in range(rounds):
        g = torch.Generator().manual_seed(r)
        caches = [{'k': torch.zeros(batch, H, T, D // H), 'v': torch.zeros(batch, H, T, D // H), 'len': 0} for _ in range(L)]
        tok = torch.zeros(batch, 1, dtype=torch.long)  # BOS
        t0, c0 = time.perf_counter(), time.process_time()
        for pos in range(new):
            logits = model(tok, pos, caches)[:, -1]
            for c in caches:
                c['len'] += 1
            tok = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=g)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return rates(batch * new, walls, cpus)


def products_rate(rounds):
    """GFLOP/s of one forward pass's products of a training step (the shapes bench/ceiling.ts times), median."""
    shapes = [(B * T, D, 3 * D), (B * T, D, D), (B * T, D, 4 * D), (B * T, 4 * D, D)] * L + [(B * T, D, V)]
    g = torch.Generator().manual_seed(1)
    pairs = [(torch.rand(m, k, generator=g), torch.rand(k, n, generator=g)) for m, k, n in shapes]
    flops = sum(2 * m * k * n for m, k, n in shapes)
    for _ in range(3):
        for a, b in pairs:
            a @ b
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(10):
            for a, b in pairs:
                a @ b
        out.append(10 * flops / (time.perf_counter() - t0) / 1e9)
    return round(statistics.median(out), 1)


def blas():
    """The BLAS library this process mapped (Linux), e.g. openblas-openmp."""
    try:
        with open('/proc/self/maps') as f:
            libs = {line.split('/')[-2] for line in f if 'blas' in line.split('/')[-1]}
        return ','.join(sorted(libs)) or 'unknown'
    except OSError:
        return 'unknown'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--steps', type=int, default=7)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--rounds', type=int, default=3, help='sampling rounds (median)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = GPT()
    params = sum(p.numel() for p in model.parameters())
    train = train_rate(model, a.steps, a.warmup)
    sample = sample_rate(model, a.rounds)
    products = products_rate(a.rounds)
    print(json.dumps({
        'peer': f'pytorch {torch.__version__}', 'blas': blas(), 'threads': torch.get_num_threads(), 'params': params,
        'train': train, 'sample': {'batch64': sample}, 'productsGflops': products,
        'load': os.getloadavg()[0],
    }))


if __name__ == '__main__':
    main()
