"""The buffered stream gives every draw its Generator would have given, in
order, whatever mix of calls a skip model makes (so seeded runs stay identical)."""

import numpy as np

from simulator.uniform_stream import UniformStream


def test_same_draws_as_the_generator_in_any_mix_of_calls():
    plain, stream = np.random.default_rng([3, 3]), UniformStream(np.random.default_rng([3, 3]),
                                                                block=64)
    calls = np.random.default_rng(1)
    for _ in range(3000):
        kind, n = calls.integers(5), int(calls.integers(0, 150))  # past a block at times
        if kind <= 1:
            assert np.array_equal(stream.random(n), plain.random(n))
        elif kind == 2:
            p = calls.random(int(calls.integers(1, 6)))
            p /= p.sum()
            assert np.array_equal(stream.choice(len(p), size=n, p=p),
                                  plain.choice(len(p), size=n, p=p))
        elif kind == 3:  # asked of the Generator itself, at the stream's position
            assert np.array_equal(stream.integers(0, 1000, n), plain.integers(0, 1000, n))
        else:
            assert stream.random() == plain.random()


def test_draws_are_read_only():
    u = UniformStream(np.random.default_rng(0)).random(4)
    assert not u.flags.writeable
