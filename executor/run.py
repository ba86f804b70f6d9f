"""One real run: resolve and check everything, load the model, compute (or
read) the reference tokens, build the skip mode, serve, write the outputs.

Every check that needs no model (names, the memory split, the trace, a
request that cannot fit the KV cache, a SkipProfile for another plan) runs
before the model loads. The KV pages are the memory split's capacity
(`policies/memory_split.py`), capped at what the whole trace could ever hold at
once plus the admission watermark: pages beyond that are never touched, and
allocating them on a CPU would only take memory from others (both figures go
to config.json). The admission watermark is a share of the pages that exist.
"""

from __future__ import annotations

import dataclasses
import sys
import time

from executor.config import ExecConfig
from policies.admission import WatermarkAdmission
from skipsim.errors import UserError

# torch GPU names -> the device specs that price their steps
GPU_SPECS = (("H200", "h200"), ("H100", "h100-sxm"), ("A100", "a100-80gb"))


def execute(args, cfg: ExecConfig) -> int:
    import torch

    from simulator.cli import _out_dir, tokenizer_args
    from simulator.run import Setup, check_trace_fits
    from skipsim.model_loader import is_smollm2, model_dir
    from traces.cli import trace_config
    from traces.loaders import load_trace

    if not is_smollm2(cfg.sim.model):
        model_dir(cfg.sim.model, need_weights=False)  # a Llama or Qwen folder, or one line
    device, sim = _device(cfg)
    cfg = dataclasses.replace(cfg, sim=sim)
    setup = Setup(sim)
    trace = load_trace(args.trace, trace_config(tokenizer_args(args), args.request_rate))
    check_trace_fits(trace, setup)  # the simulator's checks: empty, context window, KV cache
    page_tokens = sim.kv_block_tokens
    need = -(-(trace.prompt_tokens + trace.output_tokens) // page_tokens)
    # pages the whole trace could hold at once, plus the admission watermark on top
    # (so a cap never blocks an admission the uncapped cache would allow)
    held_at_once = -(-int(need.sum()) // (1.0 - sim.kv_watermark_fraction)) + 1
    num_pages = int(min(setup.memory.kv_capacity_blocks, held_at_once))
    # the shared admission rule, its watermark a share of the pages that exist
    setup.admission = WatermarkAdmission.from_fraction(sim.max_num_seqs,
                                                       sim.kv_watermark_fraction, num_pages)
    # the no-skip scheduler turns the routers off, as in the simulator
    mode = cfg.skip_mode if setup.scheduler.uses_router else "no-skip"
    if mode == "router":  # refuse a profile of another model/plan before loading
        from executor.routers import check_plan, check_profile
        from profiler.calibration.skip_profile import SkipProfile
        from simulator.skip_models.measured import DEFAULT_PROFILE

        path = sim.skip_options.get("skip_config") or DEFAULT_PROFILE
        points = sim.skip_options.get("skip_targets_by_layer")
        if points:  # a `simulate plan` plan: a subset of the profile's checkpoints
            check_plan(SkipProfile.load(path), sim.model, setup.plan, points, path)
        else:
            check_profile(SkipProfile.load(path), sim.model, setup.plan)

    from tqdm import tqdm

    from executor.model_runner import ModelRunner
    from executor.outputs import labels_of, write_all
    from executor.prompts import prompt_ids
    from executor.reference import cached_reference
    from executor.serve import Executor
    from executor.skip_modes import make_skip_mode
    from simulator.timeline import Timeline
    from skipsim.model_loader import load_model
    from skipsim.paths import cache_dir

    quiet = True if args.no_progress else None
    started = time.time()
    model, tokenizer = load_model(sim.model, cfg.dtype, device)
    prompts, trace = prompt_ids(trace, tokenizer, sim.seed)
    runner = ModelRunner(model, num_pages, torch.device(device), getattr(torch, cfg.dtype),
                         page_tokens=page_tokens)
    ref_dir = cache_dir("executor", "reference", f"{setup.spec.name}-{cfg.dtype}-{device}")
    with tqdm(total=len(trace), desc="reference tokens", unit="req", file=sys.stderr,
              disable=quiet, leave=False) as bar:
        refs = cached_reference(ref_dir, runner, prompts, trace.output_tokens.tolist(), bar)
    context = {"seed": sim.seed, "model": sim.model, "device": device, "tokenizer": tokenizer,
               "cpu_layerwise": lambda: _cpu_layerwise(model, sim.model, cfg.dtype),
               "log": lambda msg: print(msg, file=sys.stderr)}
    skip = make_skip_mode(mode, setup.plan, sim.skip_options, context)
    setup_s = time.time() - started
    timeline = Timeline(1) if args.timeline else None
    with tqdm(total=len(trace), desc="executing", unit="req", file=sys.stderr,
              disable=quiet, leave=False) as bar:
        ex = Executor(trace, prompts, refs, runner, setup, cfg, skip, progress=bar,
                      timeline=timeline)
        stats = ex.run()
    labels = labels_of(setup, cfg, skip, device, model)
    meta = {"trace": args.trace, "burstiness": args.burstiness,
            "request_rate_per_s": args.request_rate if not args.arrival_times else None,
            "memory": vars(setup.memory), "kv_pages_allocated": num_pages,
            "setup_wall_s": round(setup_s, 2)}
    out = _out_dir(args.out)
    paths = write_all(out, ex, stats, setup, cfg, labels, meta, args.records_format, timeline,
                      args.timeline)
    print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    if ex.interrupted:
        cut = int((~ex.t.done).sum())
        print(f"simulate: interrupted: wrote the records of {int(ex.t.done.sum())} finished "
              f"requests; {cut} cut off", file=sys.stderr)
        return 130
    return 0


def _device(cfg: ExecConfig):
    """The torch device, and the served-system config priced for it."""
    import torch

    from executor.devices import configure_device

    sim = cfg.sim
    configure_device(cfg.torch_device, cfg.torch_threads)
    if cfg.torch_device == "cpu":
        return "cpu", sim
    props = torch.cuda.get_device_properties(0)
    spec = next((s for key, s in GPU_SPECS if key in props.name), None)
    if spec is None:
        raise UserError(f"no device spec prices {props.name!r}: pass --cost-model PROFILE "
                        "measured on it")
    memory = sim.gpu_memory_bytes or int(props.total_memory)
    return "cuda", dataclasses.replace(sim, device=spec, gpu_memory_bytes=memory)


def _cpu_layerwise(model, name: str, dtype: str):
    """The calibration decoder on a CPU float32 copy (the banks are rebuilt there)."""
    from profiler.calibration.decoder import LayerwiseModel
    from skipsim.model_loader import load_model

    if next(model.parameters()).device.type == "cpu" and dtype == "float32":
        return LayerwiseModel(model)
    return LayerwiseModel(load_model(name, "float32", "cpu")[0])
