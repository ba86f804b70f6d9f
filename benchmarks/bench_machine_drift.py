"""How steady is this machine? The same memory-bound op timed again and again.

`simulate validate` compares a simulator priced by a profile measured at one
time with executor runs made at another. On a shared VM the speed of a
memory-bound op (SmolLM2's LM head streams its 113 MB weight from DRAM for
every step) moves with what the neighbours do, and no cost model can follow
it. This prints the spread of one such op over `--seconds`: if it is wider
than validate's goal (3% on mean E2E), the goal cannot be told apart from
the machine.

    .venv/bin/python benchmarks/bench_machine_drift.py [--seconds 60]

The op: validate's machine-speed probe (`profiler.speed_probe`: SmolLM2's
LM head, [4, 576] x [576, 49152] float32 on one torch thread), 20 calls per
sample, one sample a second.

`--cold` compares, in one run, the op timed back to back (as the profiler's
tight loop times it) with the op timed after ~320 MB of other weights have
streamed through (as the executor runs it, after the decoder layers): this
VM reports a 480 MiB L3, so a tight loop keeps much of the 113 MB weight in
cache and prices the op below what a real step pays.
"""

from __future__ import annotations

import argparse
import statistics
import time

from profiler.speed_probe import HIDDEN, TOKENS, VOCAB, operands

CALLS_PER_SAMPLE = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pause-s", type=float, default=1.0, help="between samples")
    parser.add_argument("--cold", action="store_true",
                        help="warm (back to back) against after streaming other weights")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    x, w = operands("cpu")
    if args.cold:
        return warm_against_cold(torch, x, w)
    samples_ms = []
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        for _ in range(CALLS_PER_SAMPLE):
            x @ w.T
        samples_ms.append((time.perf_counter() - t0) / CALLS_PER_SAMPLE * 1e3)
        time.sleep(args.pause_s)
    med = statistics.median(samples_ms)
    print(f"LM-head-shaped matmul [{TOKENS}x{HIDDEN}] x [{HIDDEN}x{VOCAB}], one thread, "
          f"{len(samples_ms)} samples over {args.seconds:.0f} s")
    print(f"min {min(samples_ms):.2f} ms  p50 {med:.2f} ms  max {max(samples_ms):.2f} ms  "
          f"spread (max - min) / p50 = {100 * (max(samples_ms) - min(samples_ms)) / med:.0f}%")
    print("samples (ms): " + " ".join(f"{v:.1f}" for v in samples_ms))


def warm_against_cold(torch, x, w, rounds: int = 3, calls: int = 20) -> None:
    # 60 MLP-sized matrices [2304, 1152] float32: ~320 MB, about SmolLM2's 30 layers
    other = [torch.randn(4 * HIDDEN, 2 * HIDDEN) for _ in range(60)]
    xs = torch.randn(TOKENS, 4 * HIDDEN)

    def timed_ms() -> float:
        t0 = time.perf_counter()
        x @ w.T
        return (time.perf_counter() - t0) * 1e3

    def after_streaming_ms() -> float:
        for o in other:
            xs @ o
        return timed_ms()

    for r in range(rounds):
        warm = statistics.median(timed_ms() for _ in range(calls))
        cold = statistics.median(after_streaming_ms() for _ in range(calls))
        print(f"round {r}: back to back p50 {warm:.1f} ms, after streaming ~320 MB p50 "
              f"{cold:.1f} ms ({cold / warm:.2f}x)")


if __name__ == "__main__":
    main()
