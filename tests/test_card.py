"""The model card: one reader and writer, validated; a missing, foreign or other model's card is one line."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import REPO, assert_one_line_error, run_cli

pytestmark = pytest.mark.edge

SHIPPED = REPO / "edge" / "models" / "digits_int8.tflite"


def test_the_shipped_card_reads_and_writes_back_the_same():
    from digitlite.edge.runtime.card import ModelCard

    card = ModelCard.of(SHIPPED)
    assert card.file == SHIPPED.name and card.variant == "int8" and card.full_integer is True
    # the accuracy the published quantization table states for the shipped file
    published = json.loads((REPO / "benchmarks" / "results" / "quantization.json").read_text())
    stated = next(c for c in published if c["file"] == SHIPPED.name and c["variant"] == "int8")
    assert card.tflite_accuracy == pytest.approx(stated["tflite_accuracy"]) and card.sha256 == stated["sha256"]
    assert 0.99 < card.tflite_accuracy < 1 and card.size_bytes == SHIPPED.stat().st_size
    on_disk = {k: v for k, v in json.loads(SHIPPED.with_suffix(".json").read_text()).items() if v is not None}
    assert card.to_dict() == on_disk
    assert ModelCard.from_dict(json.loads(card.to_json())) == card


def _model_with(tmp_path, card_text: str | None):
    model = tmp_path / "m.tflite"
    shutil.copyfile(SHIPPED, model)
    if card_text is not None:
        (tmp_path / "m.json").write_text(card_text)
    return model


@pytest.mark.parametrize("card_text, fragment", [
    (None, "the model card is missing"),
    ("{not json", "unreadable model card"),
    ("[1, 2]", "not a model card (expected a JSON object)"),
    ('{"class_name": "Sequential", "config": {}}', "not a digitlite model card (no file, variant, tflite_accuracy"),
    (json.dumps({**json.loads(SHIPPED.with_suffix(".json").read_text()), "size_bytes": "big"}),
     "size_bytes is str"),
    (json.dumps({**json.loads(SHIPPED.with_suffix(".json").read_text()), "sha256": "0" * 64}),
     "does not match m.tflite: not this model's card"),
])
def test_a_bad_card_is_one_clear_error(tmp_path, card_text, fragment):
    from digitlite.edge.runtime.card import CardError, ModelCard

    model = _model_with(tmp_path, card_text)
    with pytest.raises(CardError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        ModelCard.of(model)
    # export needs the card; serve and info take a model without one, but not a broken one
    assert_one_line_error(run_cli("export", str(tmp_path / "out"), "--model", str(model)), fragment)


def test_a_model_without_a_card_still_runs_and_says_so(tmp_path):
    model = _model_with(tmp_path, None)
    info = run_cli("info", "--model", str(model), "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["card_accuracy"] is None
    from digitlite.edge.runtime.card import ModelCard

    assert ModelCard.of(model, required=False) is None
