"""What the model's probabilities mean: one reading type, one "no digit" rule, one rounding.

``classify``, ``camera``, ``serve`` and the Python API all answer with these, so that a
digit, its confidence and the floor under which it is no digit mean the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DECIMALS = 6  # probabilities and confidences in JSON


@dataclass(frozen=True)
class Reading:
    """One digit read: the model's answer for one 28x28 input.

    ``digit`` is None ("no digit") when the most likely digit's probability is under the
    confidence floor; ``confidence`` is that probability either way.  ``box`` is where the
    digit is, (x0, y0, x1, y1) in the image's pixels, when it was found among others.
    """

    digit: int | None
    confidence: float
    probabilities: tuple[float, ...]
    box: tuple[int, int, int, int] | None = None

    @classmethod
    def from_probabilities(cls, probabilities, min_confidence: float = 0.0, box=None) -> Reading:
        """The reading of one row of probabilities: the most likely digit, or None under ``min_confidence``."""
        p = np.asarray(probabilities, dtype=np.float64)
        digit = int(p.argmax())
        confidence = float(p[digit])
        return cls(digit if confidence >= min_confidence else None, confidence, tuple(float(v) for v in p),
                   None if box is None else tuple(int(v) for v in box))

    @property
    def symbol(self) -> str:
        """The digit as a character, "?" for no digit."""
        return "?" if self.digit is None else str(self.digit)

    def top(self, k: int) -> list[tuple[int, float]]:
        """The ``k`` most likely digits with their probabilities, most likely first."""
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), self.probabilities[d]) for d in order]

    def as_dict(self, probabilities: bool = True) -> dict:
        """The JSON form: digit, confidence, and the ten probabilities (and the box, if any)."""
        out = {"digit": self.digit, "confidence": round(self.confidence, DECIMALS)}
        if probabilities:
            out["probabilities"] = [round(p, DECIMALS) for p in self.probabilities]
        if self.box is not None:
            out["box"] = list(self.box)
        return out


@dataclass(frozen=True)
class NumberReading:
    """Several digits read left to right: a number."""

    digits: tuple[Reading, ...]

    @property
    def number(self) -> str:
        """The digits left to right, "?" for one under the floor beside confident ones; "" when no
        digit reads with confidence (nothing found, or only unsure marks)."""
        if all(d.digit is None for d in self.digits):
            return ""
        return "".join(d.symbol for d in self.digits)

    def as_dict(self) -> dict:
        """The JSON form: the number and each digit with its confidence and box."""
        return {"number": self.number, "digits": [d.as_dict(probabilities=False) for d in self.digits]}


def readings(probabilities: np.ndarray, min_confidence: float = 0.0, boxes=None) -> list[Reading]:
    """A Reading per row of an (N, 10) probability array (with each row's box, if given)."""
    boxes = boxes if boxes is not None else [None] * len(probabilities)
    return [Reading.from_probabilities(p, min_confidence, b) for p, b in zip(probabilities, boxes)]
