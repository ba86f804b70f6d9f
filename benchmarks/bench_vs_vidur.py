"""skipsim beside a peer: Vidur 0.0.26 and skipsim on the same exported trace.

Both simulate the same requests (N ShareGPT requests, every one at t = 0,
read back from one exported CSV in Vidur's trace-replay format) served by
Llama-3-8B on one A100 with vLLM-style batching (skipsim: the `no-skip`
policy over one 32-layer block, one step per iteration; Vidur: its `vllm`
replica scheduler), the same batch caps (256 sequences, 2,048 tokens) and
16-token KV blocks. Timed: skipsim's `simulate` and Vidur's `Simulator.run`
(both after their set-up), alternated, median of --repeats; the ratio of the
medians is printed. It is a speed comparison only: the two price steps
differently (Vidur: random forests trained on the profile; skipsim: the
roofline itself) and batch differently in detail, so their latencies differ.

Vidur's wheel ships no profile data; it downloads it from a model hub at
run time, which is not reachable here. This script writes an offline
profile in Vidur's mlp/attention CSV format priced by skipsim's roofline for
the same model and device (`vidur_profile.py`), hands Vidur those files in
place of the download, and says so. Vidur trains its predictors on them once
(cached under --cache, keyed by the profile's digest).

Vidur is an optional extra; without it the script says why it skips. Install
it into the venv without letting its dependencies replace the CPU torch:

    .venv/bin/python -m pip install --no-deps vidur==0.0.26 plotly_express==0.4.1
    .venv/bin/python -m pip install wandb ddsketch fasteners

    .venv/bin/python benchmarks/bench_vs_vidur.py [--num-prompts 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import logging
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VIDUR_VERSION = "0.0.26"
MODEL, DEVICE = "llama-3-8b", "a100-80gb"
VIDUR_MODEL, VIDUR_DEVICE, VIDUR_NODE = "meta-llama/Llama-3-8B", "a100", "a100_dgx"
MAX_SEQS, MAX_TOKENS = 256, 2048  # vLLM's max_num_seqs / max_num_batched_tokens here
DATE = "2024-01-01"  # Vidur's trace replay keeps the rows of one date


def vidur_missing() -> str | None:
    """Why Vidur cannot run here, or None."""
    if importlib.util.find_spec("vidur") is None:
        return "Vidur is not installed (see this script's docstring for the install command)"
    version = importlib.metadata.version("vidur")
    if version != VIDUR_VERSION:
        return f"Vidur {version} is installed; this benchmark drives {VIDUR_VERSION}"
    try:
        import vidur.simulator  # noqa: F401  (its own dependencies load here)
    except ImportError as err:
        return f"Vidur {VIDUR_VERSION} cannot be imported: {err}"
    return None


def export_trace(n: int, path: Path):
    """The first n ShareGPT requests (seeded order), all at t = 0, written in
    Vidur's trace-replay CSV format; returns the trace read back from it."""
    import numpy as np
    import pandas as pd

    from traces.loaders import TraceConfig, load_trace
    from traces.trace import Trace

    trace = load_trace("sharegpt", TraceConfig(num_prompts=n, request_rate_per_s=math.inf))
    pd.DataFrame({"Date": DATE, "Time": trace.arrival_time_s,
                  "PromptTokenCount": trace.prompt_tokens,
                  "CompletionTokenCount": trace.output_tokens}).to_csv(path, index=False)
    df = pd.read_csv(path)
    return Trace(np.arange(len(df)), df["Time"].to_numpy(float), df["PromptTokenCount"],
                 df["CompletionTokenCount"], [None] * len(df))


def vidur_config(trace_csv: Path, cache: Path, out: Path):
    from vidur.config import (
        CacheConfig,
        ClusterConfig,
        MetricsConfig,
        RandomForrestExecutionTimePredictorConfig,
        ReplicaConfig,
        RoundRobinGlobalSchedulerConfig,
        SimulationConfig,
        TraceRequestGeneratorConfig,
        VllmSchedulerConfig,
    )

    replica = ReplicaConfig(model_name=VIDUR_MODEL, device=VIDUR_DEVICE,
                            network_device=VIDUR_NODE, num_pipeline_stages=1,
                            tensor_parallel_size=1, gpu_memory_utilization=0.9)
    cluster = ClusterConfig(num_replicas=1, replica_config=replica,
                            cache_config=CacheConfig(block_size=16),
                            global_scheduler_config=RoundRobinGlobalSchedulerConfig(),
                            replica_scheduler_config=VllmSchedulerConfig(
                                batch_size_cap=MAX_SEQS, max_tokens_in_batch=MAX_TOKENS))
    requests = TraceRequestGeneratorConfig(trace_file=str(trace_csv), date=DATE,
                                           prefill_scale_factor=1.0, decode_scale_factor=1.0,
                                           time_scale_factor=1.0, max_tokens=8192)
    # one forest setting and 2-fold CV: training is a one-off, cached; the
    # prediction grid stops at Llama-3's 8k context and the batch cap
    predictor = RandomForrestExecutionTimePredictorConfig(
        num_estimators=[100], max_depth=[32], min_samples_split=[2], k_fold_cv_splits=2,
        cache_dir=str(cache), prediction_max_tokens_per_request=8192,
        prediction_max_batch_size=MAX_SEQS, num_training_job_threads=1)
    metrics = MetricsConfig(write_metrics=True, enable_chrome_trace=False, store_plots=False,
                            output_dir=str(out))
    return SimulationConfig(cluster_config=cluster, request_generator_config=requests,
                            execution_time_predictor_config=predictor, metrics_config=metrics)


def use_offline_profile(mlp: Path, attention: Path) -> None:
    """Vidur's predictor reads these files instead of downloading its profile,
    and does not try the hub for ready-made predictions."""
    from vidur.execution_time_predictor import sklearn_execution_time_predictor as sk

    def no_hub(self):
        raise RuntimeError("no model hub here: training on the offline profile")

    sk.SklearnExecutionTimePredictor._get_input_files = (
        lambda self: (str(mlp), str(attention), "no-all-reduce.csv", "no-send-recv.csv"))
    sk.SklearnExecutionTimePredictor._load_predictions_from_hf = no_hub


def timed(fn) -> tuple[float, float, float]:
    """(wall s, CPU s, what fn() returns: the simulated makespan s) of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    makespan = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, makespan


def vidur_child(tmp: Path, cache: Path) -> None:
    """One Vidur simulation in this process (Vidur numbers its replicas and
    requests with process-wide counters: one simulation per process, as its
    CLI runs); prints the (wall, CPU) seconds of `Simulator.run`."""
    from vidur.simulator import Simulator
    from vidur.utils.random import set_seeds

    logging.getLogger("vidur").setLevel(logging.WARNING)
    use_offline_profile(tmp / "profile" / "mlp.csv", tmp / "profile" / "attention.csv")
    config = vidur_config(tmp / "trace.csv", cache, tmp / "vidur-out")
    set_seeds(config.seed)
    sim = Simulator(config)
    print(json.dumps(timed(lambda: sim.run() or sim._time)))


def run_vidur(tmp: Path, cache: Path) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, __file__, "--vidur-child", str(tmp), "--cache",
                          str(cache)], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"bench_vs_vidur: Vidur failed:\n{out.stderr[-3000:]}")
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-prompts", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/skipsim/vidur",
                        help="Vidur's predictor cache")
    parser.add_argument("--checkpoints", default="32",
                        help="skipsim's blocks (default: one 32-layer block, one step per "
                             "iteration as vLLM; the no-skip policy runs the batch through "
                             "every block in lock-step, one step per block)")
    parser.add_argument("--vidur-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    why = vidur_missing()
    if why:
        print(f"bench_vs_vidur: skipped: {why}")
        return 0
    if args.vidur_child:
        vidur_child(args.vidur_child, args.cache)
        return 0
    from vidur_profile import write_profile

    from simulator.config import SimConfig
    from simulator.run import Setup, simulate

    with tempfile.TemporaryDirectory(prefix="bench-vidur-") as tmp:
        tmp = Path(tmp)
        trace = export_trace(args.num_prompts, tmp / "trace.csv")
        *_, digest = write_profile(tmp / "profile", MODEL, DEVICE)
        cache = args.cache / f"roofline-{digest}"
        print(f"Vidur {VIDUR_VERSION}: no profile data in its wheel and no model hub here; fed "
              f"an offline profile in its mlp/attention CSV format priced by skipsim's "
              f"roofline for {MODEL} on {DEVICE} (predictors cached in {cache})")
        cfg = SimConfig(model=MODEL, device=DEVICE, cost_model="roofline", policy="no-skip",
                        checkpoints=args.checkpoints, max_num_seqs=MAX_SEQS,
                        max_batched_tokens=MAX_TOKENS, kv_block_tokens=16)
        setup = Setup(cfg)
        print("Vidur trains its predictors on the profile (once per profile) ...",
              file=sys.stderr)
        run_vidur(tmp, cache)  # builds (or loads) the predictors before the timed runs
        times = {"skipsim": [], "Vidur": []}
        for _ in range(args.repeats):
            times["skipsim"].append(timed(lambda: simulate(trace, cfg, setup=setup).stats.end_s))
            times["Vidur"].append(run_vidur(tmp, cache))
    print(f"{len(trace):,} ShareGPT requests at t = 0 (the same exported trace), "
          f"Llama-3-8B on an A100, vLLM-style batching (<= {MAX_SEQS} sequences, "
          f"<= {MAX_TOKENS} tokens a step; skipsim's blocks {args.checkpoints}); "
          f"median of {args.repeats} alternated runs")
    med = {}
    for name, runs in times.items():
        med[name] = tuple(statistics.median(r[k] for r in runs) for k in (0, 1))
        print(f"  {name:<8} wall {med[name][0]:6.2f} s   cpu {med[name][1]:6.2f} s   "
              f"(runs, wall: {', '.join(f'{r[0]:.2f}' for r in runs)} s)   "
              f"simulated makespan {runs[0][2]:,.1f} s")
    print(f"speed ratio (Vidur / skipsim, CPU time): {med['Vidur'][1] / med['skipsim'][1]:.2f}x "
          f"(wall: {med['Vidur'][0] / med['skipsim'][0]:.2f}x); a speed comparison only: the "
          "two simulators price and batch steps differently, so their latencies differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
