"""The whole `simulate calibrate` pipeline on a tiny random Llama (SmolLM2's tokenizer):
every stage runs, the study lands in the profile and `--show` prints it."""

import json

import pytest
import torch

from tests.test_counterfactual_batched import tiny_llama


@pytest.fixture(scope="module")
def tiny_model_folder(tmp_path_factory):
    from skipsim.model_loader import load_tokenizer

    folder = tmp_path_factory.mktemp("tiny-llama")
    tok = load_tokenizer("smollm2")
    model = tiny_llama(seed=7, vocab=len(tok))
    model.config.eos_token_id = tok.eos_token_id
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.mark.slow   # minutes: every stage, including the learned routers' cross-fitting
def test_pipeline_writes_the_study_and_show_prints_it(tiny_model_folder, tmp_path, monkeypatch,
                                                      capsys):
    import skipsim.paths
    from skipsim.cli import main

    real_cache_dir = skipsim.paths.cache_dir
    monkeypatch.setattr(skipsim.paths, "cache_dir", lambda *parts: real_cache_dir(*parts)
                        if parts[:1] != ("calibration",) else _mk(tmp_path.joinpath(*parts)))
    out = tmp_path / "tiny.json"
    argv = ["calibrate", "--model", str(tiny_model_folder), "--checkpoints", "2,1,1,1,1",
            "--calibration-prompts", "8", "--test-prompts", "3", "--max-prompt-tokens", "16",
            "--max-new-tokens", "6", "--router", "knn", "--compare-routers", "knn,gbt,calm",
            "--targets", "0.5", "--static-layers", "1,2", "--bank-fractions", "1",
            "--compare-kv-policies", "project", "--compare-actions", "shortcut",
            "--live-calibration-prompts", "4", "--offline-routers", "mlp",
            "--learning-curve", "0.5,1", "--out", str(out)]
    with torch.no_grad():
        assert main(argv) == 0
    study = json.loads(out.read_text())["live"]["study"]
    assert {"oracle", "oracle_offline", "shortcut_quality", "ladders", "gap", "learning_curve",
            "offline"} <= set(study)
    assert set(study["offline"]) == {"knn", "gbt", "calm", "mlp"}
    assert {r["router"] for r in study["ladders"]} == {"knn", "gbt", "calm"}
    assert {r["action"] for r in study["ladders"]} == {"identity", "shortcut"}
    assert set(study["gap"]) == {"knn", "gbt", "calm"}
    assert [r["prompts"] for r in study["learning_curve"]] == [4, 8]
    capsys.readouterr()
    assert main(["calibrate", "--show", str(out)]) == 0
    shown = capsys.readouterr().out
    for section in ("frontier on held-out prompts", "oracle (", "static-BI", "knn+shortcut",
                    "gap to the oracle", "learning curve", "offline walk"):
        assert section in shown, section


def _mk(path):
    path.mkdir(parents=True, exist_ok=True)
    return path
