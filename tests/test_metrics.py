"""Classification metrics against an independent, loop-by-loop reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from digitlite.edge.data.metrics import (
    classification_report,
    confusion_matrix,
    format_report,
)

pytestmark = pytest.mark.edge  # numpy and Pillow only: also run where only tflite-runtime is installed


def reference(y_true, y_pred, k):
    """Precision, recall and F1 per class, written out the textbook way."""
    out = []
    for c in range(k):
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == c and p == c)
        fp = sum(1 for t, p in zip(y_true, y_pred) if t != c and p == c)
        fn = sum(1 for t, p in zip(y_true, y_pred) if t == c and p != c)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append((precision, recall, f1, tp + fn))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_report_matches_reference(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 10, 500)
    probs = rng.random((500, 10))
    probs[np.arange(500), y_true] += rng.random(500) * 1.5  # mostly right, sometimes wrong
    probs /= probs.sum(axis=1, keepdims=True)
    y_pred = probs.argmax(axis=1)
    rep = classification_report(y_true, probs)
    for row, (p, r, f, n) in zip(rep["per_class"], reference(y_true, y_pred, 10)):
        assert row["precision"] == pytest.approx(p) and row["recall"] == pytest.approx(r)
        assert row["f1"] == pytest.approx(f) and row["support"] == n
    assert rep["accuracy"] == pytest.approx(np.mean(y_pred == y_true))
    assert rep["errors"] == int(np.sum(y_pred != y_true)) == len(rep["misclassified"])
    ref_loss = -sum(math.log(probs[i, y_true[i]]) for i in range(500)) / 500
    assert rep["loss"] == pytest.approx(ref_loss)
    cm = np.array(rep["confusion_matrix"])
    for t in range(10):
        for p in range(10):
            assert cm[t, p] == np.sum((y_true == t) & (y_pred == p))


def test_class_never_predicted_has_zero_precision_not_nan():
    y_true = np.array([0, 1, 2, 2])
    probs = np.eye(3)[[0, 1, 1, 1]]
    rep = classification_report(y_true, probs)
    assert rep["per_class"][2] == {"class": 2, "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert "nan" not in format_report(rep)


def test_macro_averages_skip_classes_absent_from_a_slice():
    """50 images may hold no 9: it is not a class scored 0 (as in scikit-learn's macro average)."""
    y_true = np.array([0, 1, 2, 2])
    probs = np.eye(10)[[0, 1, 2, 1]]  # classes 3-9 neither occur nor are predicted
    rep = classification_report(y_true, probs)
    precision = [1.0, 0.5, 1.0]
    recall = [1.0, 1.0, 0.5]
    assert rep["macro_precision"] == pytest.approx(np.mean(precision))
    assert rep["macro_recall"] == pytest.approx(np.mean(recall))
    assert rep["macro_f1"] == pytest.approx(np.mean([1.0, 2 / 3, 2 / 3]))
    perfect = classification_report(np.arange(5), np.eye(10)[:5])
    assert perfect["macro_precision"] == perfect["macro_recall"] == perfect["macro_f1"] == 1.0


def test_confusion_matrix_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_matrix(np.zeros(3), np.zeros(4))
