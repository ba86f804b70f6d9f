"""The real executor: the served system of DESIGN.md on a real PyTorch model.

Requests are released at their trace arrival times on the wall clock and
served with continuous batching, one virtual queue per block, by the very
policy objects the simulator uses (schedulers, routers and thresholds of a
SkipProfile, KV-hole policies, the memory split); the tensors are run by
`ModelRunner` (paged KV cache, one batched pass per block). Every run writes
the simulator's record schema with the *measured* agreement with the full
model, a per-step log priced by the cost model, and its router decisions in
the format `--skip-model replay` reads.

Data flow: cli -> setup (model, runner, prompts, reference tokens, skip mode)
-> serve (the serving loop) -> outputs.
"""
