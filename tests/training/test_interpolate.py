"""WiSE-FT (training/interpolate.py): a = 0 and a = 1 reproduce the two endpoints exactly, a in between mixes,
a outside [0, 1] and mismatched models are clear errors, and training with wise_ft_alphas picks a on dev."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sentence_transformers import SentenceTransformer

from retrieval.errors import ConfigError, ModelError
from training import train
from training.config import load_config
from training.interpolate import choose_alpha, interpolate


@pytest.fixture()
def pair(tiny_model: Path):
    base = SentenceTransformer(str(tiny_model), device="cpu")
    tuned = SentenceTransformer(str(tiny_model), device="cpu")
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return base, tuned


def _same(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_endpoints_are_reproduced_exactly(pair):
    base, tuned = pair
    assert _same(interpolate(base, tuned, 0.0), base)
    assert _same(interpolate(base, tuned, 1.0), tuned)
    assert not _same(base, tuned)


def test_halfway_is_the_mean(pair):
    base, tuned = pair
    mixed = interpolate(base, tuned, 0.5).state_dict()
    name = next(k for k, v in base.state_dict().items() if torch.is_floating_point(v))
    expected = (base.state_dict()[name] + tuned.state_dict()[name]) / 2
    assert torch.allclose(mixed[name], expected, atol=1e-6)
    text = ["una frase di prova"]
    assert interpolate(base, tuned, 0.5).encode(text).shape == base.encode(text).shape


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_alpha_outside_the_unit_interval_is_refused(pair, alpha):
    with pytest.raises(ConfigError, match=r"outside \[0, 1\]"):
        interpolate(*pair, alpha)
    with pytest.raises(ConfigError, match=r"must lie in \[0, 1\]"):
        load_config(None, {"training.wise_ft_alphas": [0.5, alpha]})


def test_models_with_other_shapes_are_refused(pair, tiny_model, tmp_path):
    base, tuned = pair
    other = SentenceTransformer(str(tiny_model), device="cpu")
    emb = other[0].auto_model.get_input_embeddings()
    other[0].auto_model.resize_token_embeddings(emb.num_embeddings - 5)
    with pytest.raises(ModelError, match="shape"):
        interpolate(base, other, 0.5)


class _Evaluator:
    """Scores a model by how close it is to a target state (a stand-in for the dev NDCG@10)."""

    primary_metric = "dev_cosine_ndcg@10"

    def __init__(self, target):
        self.target = target.state_dict()

    def __call__(self, model):
        state = model.state_dict()
        dist = sum(float((state[k].float() - self.target[k].float()).abs().sum()) for k in state
                   if torch.is_floating_point(state[k]))
        return {self.primary_metric: -dist}


def test_choose_alpha_picks_the_best_on_dev(pair):
    base, tuned = pair
    halfway = interpolate(base, tuned, 0.5)
    alpha, scores, model = choose_alpha(base, tuned, _Evaluator(halfway), [0.0, 0.25, 0.5, 1.0])
    assert alpha == 0.5 and set(scores) == {0.0, 0.25, 0.5, 1.0} and _same(model, halfway)


def test_training_with_wise_ft_records_the_choice(tiny_model, fixture_dataset, tiny_config, tmp_path):
    out = tmp_path / "run"
    argv = ["--config", str(tiny_config), "--dataset", str(fixture_dataset), "--model", str(tiny_model),
            "--output-dir", str(out), "--max-steps", "20"]
    cfg_text = tiny_config.read_text().replace("seed: 0}", "seed: 0, wise_ft_alphas: [0.0, 0.5, 1.0]}")
    tiny_config.write_text(cfg_text)
    assert train.main(argv) == 0
    info = json.loads((out / "final" / "training_info.json").read_text())
    assert set(info["wise_ft"]["dev_ndcg@10"]) == {"0.0", "0.5", "1.0"}
    best = max(info["wise_ft"]["dev_ndcg@10"].values())
    assert info["wise_ft"]["dev_ndcg@10"][str(info["wise_ft"]["alpha"])] == best
