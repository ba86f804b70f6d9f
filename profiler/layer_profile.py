"""Timing one decoder layer of the real model, its halves, and the model's ends.

The layer modules of the loaded Hugging Face model are called directly, with
its own rotary embedding and attention implementation, on hidden states of
the real width. Each call runs `block_layers` *distinct* consecutive layers
and the row stores the time per layer: timing one layer over and over keeps
its ~14 MB of weights in the CPU cache, which a 30-layer forward never does
(on this machine a lone layer at batch 1 ran ~2x faster than in a stack).
Decode steps attend to a K/V cache of the exact shape a
serving system holds, (batch, kv_heads, context, head_dim), preallocated and
filled with random values: only the shapes matter to the time, and a slot
write (not a growing `torch.cat`) is what a paged cache does. Rows measured:

- layer / attention / mlp, phase prefill (tokens n, no cached prefix) and
  phase decode (batch b, one new token each, context c);
- kv_projection: input norm + K and V projections + RoPE of T carried hidden
  states, written to the cache (the `project` KV-hole policy), one layer;
- logits: embedding of T tokens + final norm + LM head + argmax.

The ops are timed in a tight loop by default. With `grid.cold_layers`
(`simulate profile --cold-layers`) every layer and LM-head call is timed
alone after the rest of the model's weights have streamed through the caches
(`profiler.cold_cache.step_evict_bytes`): a tight loop can keep the weights
in the 2-core Xeon VM's 480 MiB L3, and a decode layer ran 1.12-1.20x faster
than cold (`benchmarks/bench_cold_cache.py`). Yet on the executor's own steps
the tight loop prices better. Measured 2026-11-30 on the quiet Xeon VM: the
full grid's layer rows timed cold (20:26) and in a tight loop (20:49), each
merged into the same profile, priced the 12 loaded executor runs of one
`simulate validate --quick` (steps.parquet, `profiler.from_steps.price_steps`)
at a signed total of -5 to -16% (median step APE 8-11%) in a tight loop and
+7 to +24% (median APE 35-52%) cold, decode blocks -3 to -18% against +26 to
+50%. The machine was not still between the two (speed probe 17.2 ms at the
cold measurement, 20.1 ms at the tight loop's), which moves a total by a
sixth, but not the per-step APE by a factor of four. A real step's
consecutive layers find the activations, the KV cache and the TLB warm,
which a stream before every call evicts too. The K/V
projection is always timed in a tight loop (`LayerBench.own_weights`).

The per-step overhead is the executor's loop, timed by `step_overhead`.
"""

from __future__ import annotations

from collections.abc import Callable

from profiler.cold_cache import CacheEvictor, step_evict_bytes
from profiler.grid import ProfileGrid
from profiler.timing import Clock, Timing, measure


class SlotCache:
    """The one-method cache protocol `LlamaAttention` calls (`update`): writes
    the new K/V into a preallocated slot range and returns the full prefix."""

    def __init__(self, key, value, start: int):
        self.key, self.value, self.start = key, value, start

    def update(self, key_states, value_states, layer_idx, *args, **kwargs):
        end = self.start + key_states.shape[2]
        self.key[:, :, self.start:end] = key_states
        self.value[:, :, self.start:end] = value_states
        return self.key[:, :, :end], self.value[:, :, :end]


def _row(component: str, phase: str, timing: Timing, *, tokens: int, batch: int = 1,
         context: int = 0) -> dict:
    return {"component": component, "phase": phase, "tokens": tokens, "batch": batch,
            "context": context, "median_s": timing.median_s, "p10_s": timing.p10_s,
            "p90_s": timing.p90_s, "repeats": timing.repeats, "inner": timing.inner}


class LayerBench:
    """Callables for each measured operation of one model on one device."""

    def __init__(self, model, device: str, layer_index: int = 0, block_layers: int = 1):
        import torch

        self.torch = torch
        self.model, self.device = model, device
        self.layers = list(model.model.layers[layer_index:layer_index + block_layers])
        self.layer = self.layers[0]
        cfg = model.config
        self.hidden = cfg.hidden_size
        self.kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.dtype = next(model.parameters()).dtype
        self.gen = torch.Generator(device=device).manual_seed(0)

    def _randn(self, *shape):
        return self.torch.randn(*shape, generator=self.gen, device=self.device, dtype=self.dtype)

    def _inputs(self, batch: int, new: int, context: int, caches: int = 1):
        """Hidden states, rotary (cos, sin) and `caches` slot caches for `new`
        tokens per sequence landing at positions context-new .. context-1."""
        torch = self.torch
        x = self._randn(batch, new, self.hidden)
        pos = torch.arange(context - new, context, device=self.device).expand(batch, new)
        rope = self.model.model.rotary_emb(x, pos)
        kv_shape = (batch, self.kv_heads, context, self.head_dim)
        return x, rope, [SlotCache(self._randn(*kv_shape), self._randn(*kv_shape), context - new)
                         for _ in range(caches)]

    def ops(self, batch: int, new: int, context: int) -> dict[str, Callable[[], object]]:
        """layer / attention / mlp over one batch shape, each through every layer
        of the block; the caller divides by `len(self.layers)`."""
        x, rope, caches = self._inputs(batch, new, context, len(self.layers))
        pairs = list(zip(self.layers, caches))

        def whole():
            for layer, cache in pairs:
                layer(x, position_embeddings=rope, past_key_values=cache)

        def attention():
            for layer, cache in pairs:
                out, _ = layer.self_attn(layer.input_layernorm(x), position_embeddings=rope,
                                         attention_mask=None, past_key_values=cache)
                x + out

        def mlp():
            for layer in self.layers:
                x + layer.mlp(layer.post_attention_layernorm(x))

        return {"layer": whole, "attention": attention, "mlp": mlp}

    def kv_projection(self, tokens: int) -> Callable[[], object]:
        from transformers.models.llama.modeling_llama import rotate_half

        x, (cos, sin), (cache,) = self._inputs(1, tokens, tokens)
        attn, norm = self.layer.self_attn, self.layer.input_layernorm
        shape = (1, tokens, self.kv_heads, self.head_dim)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)

        def project():
            h = norm(x)
            k = attn.k_proj(h).view(shape).transpose(1, 2)
            v = attn.v_proj(h).view(shape).transpose(1, 2)
            return cache.update(k * cos + rotate_half(k) * sin, v, attn.layer_idx)

        return project

    def own_weights(self) -> dict[str, list]:
        """The modules whose weights each cold kind of row reads (the rest of
        the model streams before a call). Not the K/V projection: a stream
        evicts the interpreter's and torch's own state too, which a step's
        layers keep warm, and on an op of 0.15 ms that is most of its time (one
        token: 0.15 ms warm, 0.75-0.98 ms cold, while the executor filled a
        one-token hole of about four layers in 1.0-1.35 ms, validate's random
        mode on the Xeon): its rows stay timed in a tight loop."""
        inner = self.model.model
        return {"layer": self.layers,
                "logits": [inner.embed_tokens, inner.norm, self.model.lm_head]}

    def logits(self, tokens: int) -> Callable[[], object]:
        ids = self.torch.randint(0, self.model.config.vocab_size, (1, tokens),
                                 generator=self.gen, device=self.device)
        inner = self.model.model

        def head():
            h = inner.norm(inner.embed_tokens(ids))
            return self.model.lm_head(h).argmax(-1)

        return head


def count_points(grid: ProfileGrid) -> int:
    return (len(grid.prefill_tokens) + len(grid.decode_points()) + len(grid.logit_tokens)
            + len(grid.kv_projection_tokens))


def evict_bytes(bench: LayerBench, device: str) -> dict[str, int]:
    """Bytes streamed before each cold call, per kind of row (`cold_cache`)."""
    return {kind: step_evict_bytes(bench.model, own, device)
            for kind, own in bench.own_weights().items()}


def profile_layers(model, grid: ProfileGrid, device: str,
                   progress: Callable[[str], None] = lambda label: None) -> list[dict]:
    """Every layer-side row of the profile (see the module docstring)."""
    import torch

    bench = LayerBench(model, device, grid.layer_index, grid.block_layers)
    clock, cfg = Clock(device), grid.timing
    per_layer = 1.0 / len(bench.layers)
    before = {"layer": None, "logits": None, "kv_projection": None}
    if grid.cold_layers:
        sizes = evict_bytes(bench, device)
        evictor = CacheEvictor(max(sizes.values()), device)
        before.update({kind: evictor.before(n) for kind, n in sizes.items()})
    rows: list[dict] = []
    with torch.inference_mode():
        for n in grid.prefill_tokens:
            progress(f"prefill {n}")
            for comp, fn in bench.ops(1, n, n).items():
                t = measure(fn, clock, cfg, before["layer"]).scaled(per_layer)
                rows.append(_row(comp, "prefill", t, tokens=n, context=n))
        timed_mlp: set[int] = set()
        for b, c in grid.decode_points():
            progress(f"decode {b}x{c}")
            for comp, fn in bench.ops(b, 1, c).items():
                if comp == "mlp":
                    if b in timed_mlp:
                        continue  # the MLP never sees the context: one row per batch
                    timed_mlp.add(b)
                t = measure(fn, clock, cfg, before["layer"]).scaled(per_layer)
                rows.append(_row(comp, "decode", t, tokens=b, batch=b,
                                 context=0 if comp == "mlp" else c))
        for n in grid.kv_projection_tokens:
            progress(f"kv projection {n}")
            t = measure(bench.kv_projection(n), clock, cfg, before["kv_projection"])
            rows.append(_row("kv_projection", "", t, tokens=n))
        for n in grid.logit_tokens:
            progress(f"logits {n}")
            t = measure(bench.logits(n), clock, cfg, before["logits"])
            rows.append(_row("logits", "", t, tokens=n))
    return rows
