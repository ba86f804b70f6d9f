"""Run a Hugging Face Llama/Qwen model layer by layer over a paged KV store.

The serving loop (`executor/serve.py`) decides which requests run which
layers; this class does the tensor work, batched over requests, with no
per-request Python inside a layer:

    runner = ModelRunner(model, num_pages, device="cpu", dtype=torch.float32, page_tokens=16)
    runner.num_layers, runner.hidden_size, runner.vocab_size
    runner.allocate(req, num_tokens) -> bool      # grow request `req` to num_tokens positions
    runner.free(req)                              # return its pages (and clear its holes)
    runner.prefill(reqs, token_ids, start_pos) -> h [B, d]
        full depth over each request's chunk (token_ids[b] at positions
        start_pos[b]...; start_pos > 0 continues a chunked prefill), writing
        every layer's K/V; returns the hidden state of each chunk's last
        position after the last layer (before the final norm)
    runner.prefill_layers(reqs, token_ids, start_pos, lo, hi, h=None) -> h [sum n, d]
        the same over layers lo..hi-1 only, from h (every chunk token's state
        entering layer lo, chunks in order; None at lo = 0: the embeddings);
        returns every chunk token's state after layer hi - 1 (the serving
        loop moves a prefill block by block, as the simulator does)
    runner.embed(token_ids [B]) -> h [B, d]
    runner.decode_layers(h [B, d], reqs, positions [B], lo, hi) -> h [B, d]
        one batched pass of layers lo..hi-1 for one token per request at its
        position, attending to its own request's positions <= its own;
        writes the token's K/V in those layers
    runner.fill_holes(fill, h [B, d], reqs, positions [B], lo, hi)
        the K/V rows of skipped layers lo..hi-1 at those positions, as the
        KV-hole policy's `HoleFill` says:
        PROJECT:      K/V projections of the carried h (each skipped layer's
                      input RMSNorm, k/v projections and RoPE; one batched matmul);
        COPY:         the departure layer's (lo - 1) rows (lo must be > 0);
        MASK:         marked as holes: attention never reads them;
        REPAIR_LATER: marked as owed (masked like holes until repaired)
    runner.repair(reqs, positions [B], lo, hi, h_in [B, d])
        recompute owed rows of layers lo..hi-1 from h_in, the hidden state
        that entered layer lo (the carried state), batched; clears the marks
    runner.logits(h [B, d]) -> [B, vocab]     # final norm + LM head
    runner.check_integrity()                  # pages vs allocator, holes, finite K/V

Attention gathers each request's pages by its page table into a padded
[B, Hkv, S, hd] view and runs SDPA with an additive mask that removes
positions after the query's, padding, and marked holes of that layer.
Decode folds the query heads of each KV head into the query-length axis
(B, Hkv, H/Hkv, hd), so grouped-query attention needs no K/V repetition.
All methods run under `torch.inference_mode()`; `h` is in the runner's dtype.
The runner keeps its own copy of the weights (stacked by layer, in its dtype
on its device: `weights.py`), so the HF model may be dropped once it is built.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from executor.kv_store import HOLE, OWED, PagedKVStore
from executor.weights import RopeTable, rms_norm, rotate, stack_weights
from policies.kv_hole import HoleFill
from skipsim.errors import UserError
from skipsim.model_loader import SUPPORTED_FAMILIES


class ModelRunner:
    def __init__(self, model, num_pages: int, device="cpu", dtype=torch.float32,
                 page_tokens: int = 16):
        cfg = model.config
        if cfg.model_type not in SUPPORTED_FAMILIES:
            raise UserError(f"model_type {cfg.model_type!r} is not supported by the executor "
                            f"(supported: {', '.join(sorted(SUPPORTED_FAMILIES))})")
        if getattr(cfg, "use_sliding_window", False):
            raise UserError("sliding-window attention is not supported by the executor")
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        with torch.no_grad():
            self.w = stack_weights(model, self.device, self.dtype)
        self.rope = RopeTable(model, self.device, self.dtype)
        self.num_layers = cfg.num_hidden_layers
        self.hidden_size = cfg.hidden_size
        self.vocab_size = self.w.lm_head.shape[0]
        self.page_tokens = page_tokens
        self.kv = PagedKVStore(self.num_layers, num_pages, page_tokens, self.w.kv_heads,
                               self.w.head_dim, self.device, self.dtype)

    # -- pages -------------------------------------------------------------
    @property
    def allocator(self):
        """The shared `PagedKVCache` that counts this store's pages."""
        return self.kv.allocator

    @property
    def free_pages(self) -> int:
        return self.kv.free_pages

    def allocate(self, req: int, num_tokens: int) -> bool:
        return self.kv.allocate(req, num_tokens)

    def free(self, req: int) -> None:
        self.kv.free(req)

    def owed_rows(self) -> int:
        """(layer, position) rows marked by `repair` and not yet recomputed."""
        return self.kv.count(OWED)

    def check_integrity(self) -> None:
        self.kv.check_integrity()

    # -- the model's ends ----------------------------------------------------
    @torch.inference_mode()
    def embed(self, token_ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(token_ids.to(self.device), self.w.embed)

    @torch.inference_mode()
    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(rms_norm(h, self.w.final_norm, self.w.eps), self.w.lm_head)

    # -- one layer's pieces --------------------------------------------------
    def _qkv(self, layer: int, h, cos, sin):
        """q [N, H, hd], k and v [N, Hkv, hd] of tokens h [N, d]; RoPE applied."""
        w = self.w
        x = rms_norm(h, w.in_norm[layer], w.eps)
        bias = None if w.qkv_bias is None else w.qkv_bias[layer]
        qkv = F.linear(x, w.qkv[layer], bias)
        n, heads = h.shape[0], w.heads + w.kv_heads
        qk = qkv[:, :w.q_width + w.kv_width].view(n, heads, w.head_dim)
        v = qkv[:, w.q_width + w.kv_width:].view(n, w.kv_heads, w.head_dim)
        if w.q_norm is not None:  # Qwen3: RMSNorm over each head before RoPE
            qk = torch.cat((rms_norm(qk[:, :w.heads], w.q_norm[layer], w.eps),
                            rms_norm(qk[:, w.heads:], w.k_norm[layer], w.eps)), 1)
        qk = rotate(qk, cos[:, None], sin[:, None])  # one rotation for Q and K heads
        return qk[:, :w.heads], qk[:, w.heads:], v

    def _write(self, layer: int, slots, k, v) -> None:
        self.kv.k_rows[layer].index_copy_(0, slots, k)
        self.kv.v_rows[layer].index_copy_(0, slots, v)
        self.kv.unmark(layer, slots)

    def _context(self, layer: int, pages, batch: int, span: int, bias):
        """K, V [B, Hkv, S, hd] of the gathered pages and the layer's mask."""
        w = self.w
        shape = (batch, span, w.kv_heads, w.head_dim)
        k = self.kv.k_pages[layer].index_select(0, pages).view(shape).transpose(1, 2)
        v = self.kv.v_pages[layer].index_select(0, pages).view(shape).transpose(1, 2)
        if self.kv.marked[layer]:
            T = self.page_tokens
            holes = self.kv.state[layer].view(-1, T).index_select(0, pages).view(batch, 1, 1, span)
            bias = bias.masked_fill(holes != 0, float("-inf"))
        return k, v, bias

    def _finish(self, layer: int, h, attn):
        """Output projection, residual, SwiGLU MLP, residual; attn [N, H hd]."""
        w = self.w
        h = h + F.linear(attn, w.o[layer], None if w.o_bias is None else w.o_bias[layer])
        x = rms_norm(h, w.post_norm[layer], w.eps)
        gate, up = F.linear(x, w.gate_up[layer],
                            None if w.gate_up_bias is None else w.gate_up_bias[layer]).chunk(2, -1)
        return h + F.linear(w.act(gate) * up, w.down[layer],
                            None if w.down_bias is None else w.down_bias[layer])

    def _mask(self, query_pos: torch.Tensor, span: int) -> torch.Tensor:
        """Additive mask [..., S]: 0 where key position <= query position."""
        keys = torch.arange(span, device=self.device)
        return torch.zeros(query_pos.shape + (span,), device=self.device, dtype=self.dtype
                           ).masked_fill_(keys > query_pos[..., None], float("-inf"))

    # -- steps -----------------------------------------------------------------
    @torch.inference_mode()
    def prefill(self, reqs: list[int], token_ids: list[torch.Tensor],
                start_pos: list[int]) -> torch.Tensor:
        h = self.prefill_layers(reqs, token_ids, start_pos, 0, self.num_layers)
        lens = torch.tensor([int(t.numel()) for t in token_ids], device=self.device)
        return h[lens.cumsum(0) - 1]

    @torch.inference_mode()
    def prefill_layers(self, reqs: list[int], token_ids: list[torch.Tensor],
                       start_pos: list[int], lo: int, hi: int,
                       h: torch.Tensor | None = None) -> torch.Tensor:
        w, dev = self.w, self.device
        lens = [int(t.numel()) for t in token_ids]
        if min(lens, default=0) < 1:
            raise ValueError("every prefill chunk needs at least one token")
        B, width = len(reqs), max(lens)
        pos_list = [s + j for s, n in zip(start_pos, lens) for j in range(n)]
        owners = [r for r, n in zip(reqs, lens) for _ in range(n)]
        slots = torch.tensor(self.kv.slots(owners, pos_list), device=dev)
        positions = torch.tensor(pos_list, device=dev)
        pages = self.kv.context_pages(reqs, [s + n for s, n in zip(start_pos, lens)])
        span = pages.shape[1] * self.page_tokens
        pages = pages.flatten()
        # Padded query j >= n of a request repeats its last position (its
        # output is dropped), so no mask row is empty.
        j = torch.arange(width, device=dev)
        n_t = torch.tensor(lens, device=dev)
        query_pos = (torch.tensor(start_pos, device=dev)[:, None]
                     + torch.minimum(j, n_t[:, None] - 1))
        bias = self._mask(query_pos, span)[:, None]  # [B, 1, width, S]
        padded = None if B == 1 else torch.tensor(
            [b * width + i for b, n in enumerate(lens) for i in range(n)], device=dev)
        cos, sin = self.rope(positions, max(pos_list))
        if h is None:
            if lo != 0:
                raise ValueError("a prefill entering layer lo > 0 needs its states h")
            h = F.embedding(torch.cat([t.view(-1) for t in token_ids]).to(dev), w.embed)
        for layer in range(lo, hi):
            q, k, v = self._qkv(layer, h, cos, sin)
            self._write(layer, slots, k, v)
            if padded is not None:
                q = q.new_zeros(B * width, w.heads, w.head_dim).index_copy_(0, padded, q)
            kk, vv, mask = self._context(layer, pages, B, span, bias)
            out = F.scaled_dot_product_attention(
                q.reshape(B, width, w.heads, w.head_dim).transpose(1, 2), kk, vv,
                attn_mask=mask, scale=w.scaling, enable_gqa=True)
            out = out.transpose(1, 2).reshape(B * width, w.q_width)
            if padded is not None:
                out = out.index_select(0, padded)
            h = self._finish(layer, h, out)
        return h

    @torch.inference_mode()
    def decode_layers(self, h: torch.Tensor, reqs: list[int], positions: torch.Tensor,
                      lo: int, hi: int) -> torch.Tensor:
        w, B = self.w, len(reqs)
        pos_list = positions.tolist()
        slots = torch.tensor(self.kv.slots(reqs, pos_list), device=self.device)
        pages = self.kv.context_pages(reqs, [p + 1 for p in pos_list])
        span = pages.shape[1] * self.page_tokens
        pages = pages.flatten()
        positions = positions.to(self.device)
        bias = self._mask(positions, span).view(B, 1, 1, span)
        cos, sin = self.rope(positions, max(pos_list))
        group = w.heads // w.kv_heads
        for layer in range(lo, hi):
            q, k, v = self._qkv(layer, h, cos, sin)
            self._write(layer, slots, k, v)
            kk, vv, mask = self._context(layer, pages, B, span, bias)
            out = F.scaled_dot_product_attention(
                q.reshape(B, w.kv_heads, group, w.head_dim), kk, vv, attn_mask=mask,
                scale=w.scaling)
            h = self._finish(layer, h, out.reshape(B, w.q_width))
        return h

    @torch.inference_mode()
    def fill_holes(self, fill: HoleFill, h: torch.Tensor, reqs: list[int],
                   positions: torch.Tensor, lo: int, hi: int) -> None:
        if not isinstance(fill, HoleFill):
            raise ValueError(f"unknown KV-hole fill {fill!r}: use a HoleFill "
                             f"({', '.join(f.name for f in HoleFill)})")
        if hi <= lo:
            return
        pos_list = positions.tolist()
        slots = torch.tensor(self.kv.slots(reqs, pos_list), device=self.device)
        layers = range(lo, hi)
        if fill in (HoleFill.MASK, HoleFill.REPAIR_LATER):
            self.kv.mark(layers, slots, HOLE if fill is HoleFill.MASK else OWED)
            return
        if fill is HoleFill.PROJECT:
            k, v = self._project(h, positions.to(self.device), max(pos_list), lo, hi)
        else:  # copy
            if lo < 1:
                raise ValueError("copy fills holes from the departure layer lo - 1: lo must be > 0")
            k = self.kv.k_rows[lo - 1, slots].expand(hi - lo, -1, -1, -1)
            v = self.kv.v_rows[lo - 1, slots].expand(hi - lo, -1, -1, -1)
        self.kv.k_rows[lo:hi, slots] = k
        self.kv.v_rows[lo:hi, slots] = v
        for layer in layers:
            self.kv.unmark(layer, slots)
        if fill is HoleFill.COPY and self.kv.marked[lo - 1]:  # a copy of a masked row stays masked
            src = self.kv.state[lo - 1, slots]
            for kind_mark in (HOLE, OWED):
                hit = slots[src == kind_mark]
                if len(hit):
                    self.kv.mark(layers, hit, kind_mark)

    def _project(self, h, positions, max_pos: int, lo: int, hi: int):
        """K, V [hi - lo, B, Hkv, hd] of h [B, d] in layers lo..hi-1: the
        shared RMS statistic, each layer's norm weight, one batched matmul."""
        w = self.w
        x = rms_norm(h, torch.ones((), device=self.device, dtype=self.dtype), w.eps)
        x = w.in_norm[lo:hi, None, :] * x[None]  # [n, B, d]
        kv = torch.bmm(x, w.qkv[lo:hi, w.q_width:].transpose(1, 2))  # [n, B, 2 Hkv hd]
        if w.qkv_bias is not None:
            kv = kv + w.qkv_bias[lo:hi, None, w.q_width:]
        n, B = hi - lo, h.shape[0]
        k, v = kv.split(w.kv_width, -1)
        k = k.reshape(n, B, w.kv_heads, w.head_dim)
        v = v.reshape(n, B, w.kv_heads, w.head_dim)
        if w.k_norm is not None:
            k = rms_norm(k, w.k_norm[lo:hi, None, None, :], w.eps)
        cos, sin = self.rope(positions, max_pos)
        return rotate(k, cos[None, :, None], sin[None, :, None]), v

    @torch.inference_mode()
    def repair(self, reqs: list[int], positions: torch.Tensor, lo: int, hi: int,
               h_in: torch.Tensor) -> None:
        self.decode_layers(h_in, reqs, positions, lo, hi)
