"""The real executor: the skipping server of DESIGN.md on a real PyTorch model.

Data flow: `weights.py` takes the decoder layers of a Hugging Face Llama/Qwen
model apart into stacked tensors; `kv_store.py` keeps every layer's K/V in
16-token pages with the simulator's paged allocator doing the accounting and
a per-row hole state for skipped layers; `model_runner.py` runs prefill,
batched decode of any layer range, the four KV-hole policies and the LM head
on them; `tiny.py` builds a small random Llama for fast tests; `devices.py`
sets up the CPU (one torch thread by default) or CUDA.
"""
