"""Admission (continuous batching): which waiting requests join the running
batch at a step.

Requests are admitted in waiting-line order (a preempted request goes back
to its head) while a batch slot is free and the KV blocks of their prefill
fit. vLLM's scheduler keeps a watermark of free blocks back when admitting
next to running requests, so that the running ones can grow a few tokens
before someone must be preempted (vllm/core/scheduler.py, `watermark` 0.01
of the GPU blocks). The first request into an empty batch ignores the
watermark: nothing else could use the blocks.

The caller walks its waiting line and asks `admits` for the head until it
says no (`admit_count` does that walk over plain counts); it then allocates
the blocks, so `free_blocks` and `running` are current at every call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable


class Admission(ABC):
    max_num_seqs: int  # most requests running at once

    @abstractmethod
    def admits(self, need_blocks: int, free_blocks: int, running: int) -> bool:
        """Admit the head of the waiting line, whose prefill needs
        `need_blocks` KV blocks, now that `free_blocks` are free and
        `running` requests hold KV?"""

    def admit_count(self, need_blocks: Iterable[int], free_blocks: int, running: int) -> int:
        """How many from the head of a waiting line with these block needs
        are admitted (each admission takes its blocks and a slot)."""
        n = 0
        for need in need_blocks:
            if not self.admits(need, free_blocks, running):
                break
            n, free_blocks, running = n + 1, free_blocks - need, running + 1
        return n


class WatermarkAdmission(Admission):
    """vLLM's rule: a free slot, and the prefill's blocks fit with
    `watermark_blocks` left over (unless the batch is empty)."""

    def __init__(self, max_num_seqs: int, watermark_blocks: int):
        if max_num_seqs < 1 or watermark_blocks < 0:
            raise ValueError("max_num_seqs >= 1 and watermark_blocks >= 0")
        self.max_num_seqs, self.watermark_blocks = int(max_num_seqs), int(watermark_blocks)

    @classmethod
    def from_fraction(cls, max_num_seqs: int, watermark_fraction: float,
                      capacity_blocks: int) -> WatermarkAdmission:
        """The watermark as a share of the cache (vLLM: 0.01), rounded down."""
        return cls(max_num_seqs, int(watermark_fraction * capacity_blocks))

    def admits(self, need_blocks: int, free_blocks: int, running: int) -> bool:
        if running >= self.max_num_seqs:
            return False
        return need_blocks <= free_blocks - (self.watermark_blocks if running else 0)
