"""Model references checked before slow work (retrieval/models.py): local folders, and Hub ids while offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.errors import ModelError
from retrieval.models import check_model_reference


def test_a_hub_id_that_is_not_cached_while_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match=r"'nobody/no-such-model' is a Hub id, but the Hub is offline.*Fix: pass"):
        check_model_reference("nobody/no-such-model")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    check_model_reference("nobody/no-such-model")  # online: loading it will tell


def test_local_references(tiny_model: Path, tmp_path: Path) -> None:
    check_model_reference(str(tiny_model))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="has no modules.json"):
        check_model_reference(str(tmp_path / "empty"))
    with pytest.raises(ModelError, match="training.onnx_export"):
        check_model_reference(str(tmp_path / "model_qint8.onnx"))
