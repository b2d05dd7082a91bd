"""End to end: the training CLI fine-tunes a tiny model on the fixture dataset and retrieval gets better."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sentence_transformers import SentenceTransformer

from eval.dense import encode_set, rank
from eval.metrics import evaluate_run
from eval.sets import resolve_set
from training import train


def _test_ndcg(model_path: Path, dataset: Path) -> float:
    rs = resolve_set(str(dataset))  # the dataset root -> its beir/test folder
    enc = encode_set(SentenceTransformer(str(model_path), device="cpu"), rs)
    return evaluate_run(rank(enc, None), rs.qrels)["ndcg@10"]


def test_training_improves_retrieval(
    tiny_model: Path, fixture_dataset: Path, tiny_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed: dict = {}
    monkeypatch.setattr(
        SentenceTransformer, "push_to_hub", lambda self, repo_id, **kw: pushed.update(kw, repo=repo_id)
    )
    out = tmp_path / "run"
    argv = ["--config", str(tiny_config), "--dataset", str(fixture_dataset), "--model", str(tiny_model)]
    argv += ["--output-dir", str(out), "--max-steps", "40", "--push-to-hub", "me/tiny-it"]
    assert train.main(argv) == 0
    assert pushed["repo"] == "me/tiny-it" and pushed["local_model_path"] == str(out / "final")

    final = out / "final"
    assert (final / "modules.json").is_file()
    card = (final / "README.md").read_text(encoding="utf-8")
    assert "0.0.1-test" in card and str(fixture_dataset) in card  # dataset path and version named
    assert "language:\n- it" in card and "license: mit" in card
    assert "CachedMultipleNegativesRankingLoss" in card and "MatryoshkaLoss" in card

    info = json.loads((final / "training_info.json").read_text(encoding="utf-8"))
    assert info["global_steps"] == 40 and info["dataset_version"] == "0.0.1-test"
    history = [h["ndcg@10"] for h in info["dev_ndcg@10"]]
    assert len(history) == 3  # on start, step 20, step 40
    assert info["best_metric"]["eval_dev_cosine_ndcg@10"] == max(history)
    assert info["best_checkpoint"].endswith("checkpoint-40")

    # trained on 48-token inputs, saved (final model and every checkpoint) with the base model's 64-token limit
    checkpoints = sorted(out.glob("checkpoint-*"))
    assert checkpoints
    assert {SentenceTransformer(str(p), device="cpu").max_seq_length for p in [final, *checkpoints]} == {64}
    before, after = _test_ndcg(tiny_model, fixture_dataset), _test_ndcg(final, fixture_dataset)
    assert before < 0.5, before
    assert after > before + 0.3, (before, after)


def test_card_names_hub_dataset_and_version() -> None:
    from retrieval.dataset import DatasetSource
    from training.config import TrainConfig

    source = DatasetSource(path="me/it-triplets", revision="v1.0.0", is_local=False)
    card = train.build_card_data(TrainConfig(), source)
    assert card.train_datasets == [
        {"name": "me/it-triplets version v1.0.0", "id": "me/it-triplets", "revision": "v1.0.0"}
    ]
    assert "dataset-version:v1.0.0" in card.tags and card.language == ["it"] and card.license == "mit"


def test_ablation_settings_from_the_command_line(
    tiny_model: Path, fixture_dataset: Path, tiny_config: Path, tmp_path: Path
) -> None:
    """--set reaches any setting: here training without mined negatives, on one query style."""
    out = tmp_path / "run"
    argv = ["--config", str(tiny_config), "--dataset", str(fixture_dataset), "--model", str(tiny_model),
            "--output-dir", str(out), "--max-steps", "4", "--set", "data.num_negatives=0",
            "--set", "data.styles=[keywords]", "--set", "training.wise_ft_alphas=null"]
    assert train.main(argv) == 0
    info = json.loads((out / "final" / "training_info.json").read_text(encoding="utf-8"))
    assert info["global_steps"] == 4
    assert train.main([*argv, "--set", "data.styles=[question]"]) == 2  # the fixture has keywords only
    assert train.main([*argv, "--set", "data.num_negatives"]) == 2  # no '=': one clear error


def test_frozen_token_embeddings_stay_put(
    tiny_model: Path, fixture_dataset: Path, tiny_config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "frozen"
    argv = ["--config", str(tiny_config), "--dataset", str(fixture_dataset), "--model", str(tiny_model),
            "--output-dir", str(out), "--max-steps", "4", "--set", "training.freeze_embeddings=true"]
    assert train.main(argv) == 0
    before = SentenceTransformer(str(tiny_model), device="cpu")[0].auto_model
    after = SentenceTransformer(str(out / "final"), device="cpu")[0].auto_model
    assert torch.equal(before.get_input_embeddings().weight, after.get_input_embeddings().weight)
    layer = "encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(before.state_dict()[layer], after.state_dict()[layer])  # the layers above did train
