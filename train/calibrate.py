"""Temperature scaling: one number that makes the model's confidence mean what it says.

A network trained with cross-entropy is over-confident on what it has not seen: a letter reads
as a digit at the top of the output's range.  Dividing its logits by a temperature T fitted on
held-out data (the validation set: digits and "not a digit" pictures) keeps every prediction
and makes the probabilities calibrated (Guo et al., 2017).  T is folded into the last Dense
layer (its kernel and bias divided by T), so every target that runs the model gets it.
"""

from __future__ import annotations

import numpy as np

from digitlite.edge.util.quiet import import_tensorflow

import_tensorflow()

import keras  # noqa: E402


def nll(log_probs: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of ``labels`` under softmax(log_probs / temperature)."""
    z = log_probs / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(labels)), labels]))


def fit_temperature(probs: np.ndarray, labels: np.ndarray, low: float = 0.25, high: float = 8.0) -> float:
    """The temperature that minimises the NLL of ``labels`` (golden-section search on log T)."""
    log_probs = np.log(np.clip(np.asarray(probs, np.float64), 1e-12, 1.0))
    labels = np.asarray(labels, np.int64)
    a, b = np.log(low), np.log(high)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(log_probs, labels, np.exp(c)), nll(log_probs, labels, np.exp(d))
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(log_probs, labels, np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(log_probs, labels, np.exp(d))
    return float(np.exp((a + b) / 2))


def fold_temperature(model: keras.Model, temperature: float) -> None:
    """Divide the last Dense layer's kernel and bias by ``temperature`` (in place)."""
    last = model.get_layer("probs")
    weights = last.get_weights()
    last.set_weights([w / np.float32(temperature) for w in weights])
