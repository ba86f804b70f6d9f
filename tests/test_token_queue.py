"""A TokenQueue is the insertion-ordered dict it replaces: under any mix of
bulk and per-request operations it holds the same members, in the same
order, with the same tokens and token total as a plain dict fed the same."""

import numpy as np

from simulator.token_queue import TokenQueue


def _same(q: TokenQueue, d: dict) -> None:
    ids, tokens = q.member_views()
    assert list(ids) == list(d) and list(tokens) == list(d.values())
    assert len(q) == len(d) and bool(q) == bool(d)
    assert q.total_tokens == sum(d.values())
    assert list(q.items()) == list(d.items())  # folding keeps the order too


def test_matches_a_dict_under_random_operations():
    rng = np.random.default_rng(7)
    q, d, fresh = TokenQueue(), {}, iter(range(10**6))
    for _ in range(2000):
        op = rng.integers(6)
        if op <= 1:  # a batch of decode passes, or of prefill chunks
            ids = np.fromiter((next(fresh) for _ in range(rng.integers(0, 5))), np.int64)
            tokens = None if op == 0 else rng.integers(1, 9, len(ids))
            q.extend(ids, tokens)
            d.update(zip(ids.tolist(), [1] * len(ids) if tokens is None else tokens.tolist()))
        elif op == 2:
            i = next(fresh)
            q[i] = d[i] = int(rng.integers(1, 9))
        elif op == 3 and d:
            i = list(d)[rng.integers(len(d))]
            del q[i], d[i]
        elif op == 4:
            i = list(d)[rng.integers(len(d))] if d and rng.random() < 0.7 else -1
            assert q.pop(i, None) == d.pop(i, None)
        elif rng.random() < 0.2:
            assert q.take_all().tolist() == list(d)
            d.clear()
        if d:
            assert q.min_id() == min(d)
        _same(q, d)


def test_a_batch_served_whole_is_the_array_that_came_in():
    q, batch = TokenQueue(), np.arange(5, dtype=np.int64)
    q.extend(batch)
    assert q.decode_only and q.take_all() is batch and not q
    q.extend(batch, np.full(5, 3, np.int64))
    assert not q.decode_only and q.total_tokens == 15
