"""Shared pieces of the executor tests: a tiny random model, a runner over it,
and full-depth prefill/decode steps that check the store after each."""

import torch

from executor.model_runner import ModelRunner
from executor.tiny import tiny_model

VOCAB = 96


def tokens(n: int, seed: int) -> torch.Tensor:
    return torch.randint(0, VOCAB, (n,), generator=torch.Generator().manual_seed(seed))


def runner(num_pages: int = 64, family: str = "llama", **kw) -> ModelRunner:
    return ModelRunner(tiny_model(family=family, **kw), num_pages)


def prefilled(r: ModelRunner, prompts: dict[int, torch.Tensor], extra: int = 8):
    """Prefill each request alone (room for `extra` decode tokens); h per request."""
    out = {}
    for req, ids in prompts.items():
        assert r.allocate(req, len(ids) + extra)
        out[req] = r.prefill([req], [ids], [0])[0]
        r.check_integrity()
    return out


def decode(r: ModelRunner, reqs, toks, positions, lo=0, hi=None):
    h = r.decode_layers(r.embed(torch.tensor(toks)), list(reqs), torch.tensor(positions),
                        lo, r.num_layers if hi is None else hi)
    r.check_integrity()
    return h
