"""The routers' random stream, its uniform draws served from a buffer.

Skip models draw `rng.random(n)` once per lookup round, for batches of a
few hundred tokens, so the Generator's per-call cost outweighs the draws.
`UniformStream` draws a block of uniforms at once and hands out consecutive
slices: the same numbers in the same order as the calls it replaces
(`Generator.random` turns one 64-bit output into one double, so n draws and
then m are the n + m draws of one call). `choice(a, size, p)` is served
from the same stream the way `Generator.choice` draws it (inverse CDF on
`random(size)`, tested equal); anything else is asked of the Generator
itself after rewinding it to the stream's position (`advance` from the
state where the block began), so every draw is the one the Generator would
have given.

The slices are read-only views of the block: callers compare them, never write.
"""

from __future__ import annotations

import numpy as np

BLOCK_DRAWS = 8192  # uniforms per block (64 KiB)


class UniformStream:
    def __init__(self, rng: np.random.Generator, block: int = BLOCK_DRAWS):
        self._rng = rng
        # PCG64s advance by one output per double; others are not rewound: no buffering
        self._block = block if isinstance(rng.bit_generator, (np.random.PCG64,
                                                               np.random.PCG64DXSM)) else 0
        self._buf, self._pos = np.zeros(0), 0
        self._block_state: dict | None = None  # bit generator state where _buf begins

    def random(self, size=None):
        if not isinstance(size, int) or not self._block:
            return self._sync().random(size)
        pos = self._pos
        end = pos + size
        if end > len(self._buf):
            self._sync()
            self._block_state = self._rng.bit_generator.state
            self._buf = self._rng.random(max(size, self._block))
            pos, end = 0, size
        self._pos = end
        view = self._buf[pos:end]
        view.flags.writeable = False
        return view

    def choice(self, a, size=None, replace=True, p=None):
        if not (isinstance(a, int) and isinstance(size, int) and replace and p is not None):
            return self._sync().choice(a, size, replace, p)
        # Generator.choice with replacement and weights: inverse CDF of random(size)
        cdf = np.asarray(p, np.float64).cumsum()
        cdf /= cdf[-1]
        return cdf.searchsorted(self.random(size), side="right")

    def __getattr__(self, name):  # every other Generator method, at the stream's position
        return getattr(self._sync(), name)

    def _sync(self) -> np.random.Generator:
        """The Generator, rewound to the first draw not handed out yet."""
        if self._pos < len(self._buf):
            bit_generator, saved = self._rng.bit_generator, self._block_state
            bit_generator.state = saved
            bit_generator.advance(self._pos)
            # advance drops the half-used 32-bit output that doubles never touch: put it back
            state = bit_generator.state
            state["has_uint32"], state["uinteger"] = saved["has_uint32"], saved["uinteger"]
            bit_generator.state = state
        self._buf, self._pos, self._block_state = np.zeros(0), 0, None
        return self._rng
