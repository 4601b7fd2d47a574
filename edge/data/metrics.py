"""Classification metrics in numpy: accuracy, confusion matrix, per-class precision/recall/F1."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"labels {y_true.shape} and predictions {y_pred.shape} differ in shape")
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def log_loss(y_true: np.ndarray, probabilities: np.ndarray, eps: float = 1e-7) -> float:
    """Mean cross-entropy of the true class under ``probabilities`` (N, classes)."""
    p = np.clip(probabilities[np.arange(len(y_true)), np.asarray(y_true, dtype=np.int64)], eps, 1.0)
    return float(-np.mean(np.log(p)))


def classification_report(y_true: np.ndarray, probabilities: np.ndarray) -> dict:
    """Everything a report needs from labels and predicted probabilities.

    Returns accuracy, loss, the confusion matrix (as nested lists), per-class
    precision/recall/F1/support, their macro averages, and the indices of the
    misclassified examples.  A class never predicted has precision 0.  The macro averages are
    over the classes that occur (in the labels or the predictions), as scikit-learn's are: a
    class absent from a small slice does not count as a class scored 0.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    num_classes = probabilities.shape[1]
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = probabilities.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros(num_classes), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(num_classes), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(num_classes), where=denom > 0)
    per_class = [
        {"class": c, "precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c]),
         "support": int(support[c])}
        for c in range(num_classes)
    ]
    seen = (support > 0) | (predicted > 0)
    seen = seen if seen.any() else np.ones(num_classes, bool)
    return {
        "samples": int(len(y_true)),
        "accuracy": float(tp.sum() / max(len(y_true), 1)),
        "loss": log_loss(y_true, probabilities),
        "errors": int(len(y_true) - tp.sum()),
        "macro_precision": float(precision[seen].mean()),
        "macro_recall": float(recall[seen].mean()),
        "macro_f1": float(f1[seen].mean()),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "misclassified": np.flatnonzero(y_pred != y_true).tolist(),
    }


def format_report(report: dict) -> str:
    """A human table: overall figures, then precision/recall/F1 per class."""
    lines = [
        f"accuracy  {report['accuracy'] * 100:.2f}%  ({report['errors']} errors in {report['samples']})",
        f"loss      {report['loss']:.4f}",
        "",
        "class  precision  recall     f1  support",
    ]
    for row in report["per_class"]:
        lines.append(f"{row['class']:>5}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:.4f}  {row['support']:7d}")
    lines.append(f"{'macro':>5}  {report['macro_precision']:9.4f}  {report['macro_recall']:6.4f}  {report['macro_f1']:.4f}")
    return "\n".join(lines)


CONFIDENCE_BINS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0001)  # the report's bins: where the answers are


def calibration(correct: np.ndarray, confidence: np.ndarray, bins: int = 15) -> dict:
    """How well confidence means accuracy: the expected calibration error (ECE: the mean gap
    between accuracy and confidence over ``bins`` equal-width bins, weighted by their counts)
    and, per bin of CONFIDENCE_BINS, how many answers fell in it and how many were right."""
    correct = np.asarray(correct, bool)
    confidence = np.asarray(confidence, np.float64)
    if not len(correct):
        return {"ece": 0.0, "samples": 0, "bins": []}
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    right = np.bincount(which, weights=correct, minlength=bins)
    sure = np.bincount(which, weights=confidence, minlength=bins)
    ece = float(np.sum(np.abs(right - sure)) / len(correct))
    table = []
    for lo, hi in zip(CONFIDENCE_BINS, CONFIDENCE_BINS[1:]):
        inside = (confidence >= lo) & (confidence < hi)
        n = int(inside.sum())
        table.append({"from": lo, "to": min(hi, 1.0), "answers": n, "right": int(correct[inside].sum()),
                      "mean_confidence": float(confidence[inside].mean()) if n else None})
    return {"ece": ece, "samples": int(len(correct)), "bins": table}
