"""A deterministic stand-in for `executor.model_runner.ModelRunner` (same interface) and a
small served system, for the executor's fast tests.

`FakeRunner` keeps a K/V value per (request, layer, position) in pages it
allocates like the real runner, and every layer reads the K/V of all earlier
positions of its request, so a token depends on its whole context: a wrong
position, a lost page, a stale cache after preemption or an unfilled KV
hole changes (or breaks) the tokens. Arithmetic is float64 and per row, so
with skipping off the tokens cannot depend on how requests were batched.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from policies.admission import WatermarkAdmission
from policies.checkpoint_plan import CheckpointPlan
from policies.kv_hole import HoleFill, kv_hole_policy
from policies.preemption import LatestAdmitted
from policies.schedulers import make_scheduler
from simulator.config import SimConfig
from traces.trace import Trace


class Pages:
    def __init__(self, capacity_blocks: int, block_tokens: int):
        self.capacity_blocks, self.block_tokens = capacity_blocks, block_tokens
        self.held: dict[int, int] = {}
        self.used = 0


class FakeRunner:
    def __init__(self, num_layers=6, hidden=8, vocab=40, num_pages=64, page_tokens=16, seed=0):
        self.num_layers, self.hidden_size, self.vocab = num_layers, hidden, vocab
        self.kv = self.allocator = Pages(num_pages, page_tokens)
        self.dtype, self.device = torch.float64, torch.device("cpu")
        g = torch.Generator().manual_seed(seed)
        self.w_out = torch.randn(hidden, vocab, generator=g, dtype=torch.float64)
        self.w_kv = torch.randn(num_layers, hidden, generator=g, dtype=torch.float64)
        self.store: dict[int, dict[tuple[int, int], float]] = {}  # req -> (layer, pos) -> value
        self.holes: dict[int, set] = {}  # req -> {(layer, pos)} masked out ("none")
        self.calls = {"prefill": 0, "decode_layers": 0, "fill_holes": 0, "repair": 0}

    # pages
    def allocate(self, req: int, num_tokens: int) -> bool:
        need = -(-num_tokens // self.kv.block_tokens) - self.kv.held.get(req, 0)
        if need <= 0:
            return True
        if need > self.kv.capacity_blocks - self.kv.used:
            return False
        self.kv.held[req] = self.kv.held.get(req, 0) + need
        self.kv.used += need
        return True

    def free(self, req: int) -> None:
        self.kv.used -= self.kv.held.pop(req, 0)
        self.store.pop(req, None)
        self.holes.pop(req, None)

    # math
    def embed(self, tokens):
        ar = torch.arange(1, self.hidden_size + 1, dtype=torch.float64)
        return torch.stack([torch.sin(0.37 * (int(t) + 1) * ar) for t in tokens.tolist()])

    def _layer(self, req, layer, pos, x):
        assert pos < self.kv.held.get(req, 0) * self.kv.block_tokens, "K/V written past the pages"
        st = self.store.setdefault(req, {})
        st[(layer, pos)] = float(x @ self.w_kv[layer])
        holes = self.holes.get(req, set())
        vals = []
        for p in range(pos + 1):
            if (layer, p) in holes:
                continue
            assert (layer, p) in st, f"layer {layer} attends to missing K/V at position {p}"
            vals.append(st[(layer, p)])
        return torch.tanh(x + 0.5 * math.fsum(vals) / len(vals))

    def prefill(self, reqs, token_ids_list, start_pos_list):
        h = self.prefill_layers(reqs, token_ids_list, start_pos_list, 0, self.num_layers)
        return h[torch.tensor([len(t) for t in token_ids_list]).cumsum(0) - 1]

    def prefill_layers(self, reqs, token_ids_list, start_pos_list, lo, hi, h=None):
        self.calls["prefill"] += 1
        out, row = [], 0
        for req, ids, start in zip(reqs, token_ids_list, start_pos_list):
            assert all((lo, p) in self.store.get(req, {}) for p in range(start)), \
                "prefix K/V missing"
            assert lo == 0 or all((lo - 1, start + m) in self.store[req]
                                  for m in range(len(ids))), "the chunk skipped a block"
            x_in = self.embed(ids) if h is None else h[row:row + len(ids)]
            row += len(ids)
            for m in range(len(ids)):
                x = x_in[m]
                for layer in range(lo, hi):
                    x = self._layer(req, layer, start + m, x)
                out.append(x)
        return torch.stack(out)

    def decode_layers(self, h, reqs, positions, lo, hi):
        self.calls["decode_layers"] += 1
        rows = []
        for b, (req, pos) in enumerate(zip(reqs, positions.tolist())):
            x = h[b]
            for layer in range(lo, hi):
                x = self._layer(req, layer, pos, x)
            rows.append(x)
        return torch.stack(rows)

    def fill_holes(self, fill, h, reqs, positions, lo, hi):
        self.calls["fill_holes"] += 1
        for b, (req, pos) in enumerate(zip(reqs, positions.tolist())):
            for layer in range(lo, hi):
                if fill is HoleFill.PROJECT:
                    self.store[req][(layer, pos)] = float(h[b] @ self.w_kv[layer])
                elif fill is HoleFill.COPY:
                    self.store[req][(layer, pos)] = self.store[req][(lo - 1, pos)]
                else:  # MASK, and REPAIR_LATER until repaired: masked out
                    self.holes.setdefault(req, set()).add((layer, pos))

    def repair(self, reqs, positions, lo, hi, h):
        self.calls["repair"] += 1
        for b, (req, pos) in enumerate(zip(reqs, positions.tolist())):
            x = h[b]
            for layer in range(lo, hi):
                self.holes.get(req, set()).discard((layer, pos))
                self.store[req][(layer, pos)] = float(x @ self.w_kv[layer])
                x = torch.tanh(x)

    def logits(self, h):
        return h.to(torch.float64) @ self.w_out

    def check_integrity(self):
        assert self.kv.used == sum(self.kv.held.values()) <= self.kv.capacity_blocks
        for req, _st in self.store.items():
            assert req in self.kv.held, "K/V of a request that holds no pages"


class FakeCost:
    label = "fake"
    step_overhead_s = 1e-4

    def block_time_s(self, num_layers, batch):
        return 1e-4 * num_layers * (1 + batch.tokens)

    def lm_head_time_s(self, n):
        return 1e-4 * n

    def lookup_time_s(self, entries, n):
        return 1e-5 * n

    def kv_projection_time_s(self, n, layers):
        return 1e-5 * n * layers


class FakeSetup:
    """What the engine reads of `simulator.run.Setup`."""

    def __init__(self, sim: SimConfig, num_layers: int, capacity_blocks: int = 64):
        self.plan = CheckpointPlan.parse(sim.checkpoints, num_layers)
        self.scheduler = make_scheduler(sim.policy)
        self.kv_policy = kv_hole_policy(sim.kv_policy)
        self.cost = FakeCost()
        self.admission = WatermarkAdmission.from_fraction(sim.max_num_seqs,
                                                          sim.kv_watermark_fraction,
                                                          capacity_blocks)
        self.preemption = LatestAdmitted()


def small_trace(prompt_lens, output_lens, arrivals=None, vocab=40, seed=0):
    n = len(prompt_lens)
    rng = np.random.default_rng(seed)
    prompts = [rng.integers(0, vocab, p).tolist() for p in prompt_lens]
    trace = Trace(np.arange(n), np.zeros(n) if arrivals is None else arrivals, prompt_lens,
                  output_lens, [None] * n)
    return trace, prompts


class FakeClock:
    """Wall clock stand-in: time advances only by sleeping (and a tick per read)."""

    def __init__(self, tick_s=1e-4):
        self.t, self.tick_s = 0.0, tick_s

    def __call__(self):
        self.t += self.tick_s
        return self.t

    def sleep(self, s):
        self.t += s
