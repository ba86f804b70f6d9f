"""Skip calibration on the real model: what semantic layer skipping does to
SmolLM2's greedy tokens on ShareGPT prompts.

Data flow, one file per step: `prompts` (calibration / held-out split of
ShareGPT prompts) -> `decoder` (a per-layer decode loop over the HF model with
an explicit KV cache) -> `recording` (greedy decode, hidden states at every
layer boundary) -> `counterfactual` (which skips keep the full model's token)
-> `banks` (one faiss bank per checkpoint) -> routers (in `policies/routers`)
-> `live_eval` (decode with the router in the loop and a KV-hole policy) and
`static_baseline` (ShortGPT-style fixed layer skipping) -> `skip_profile`
(the JSON file the simulator's `measured` skip model samples from).
`pipeline` runs the chain; `cli` is `simulate calibrate`.
"""
