"""What the model's probabilities mean: one reading type, one "no digit" rule, one rounding.

``classify``, ``camera``, ``serve`` and the Python API all answer with these, so that a
digit, its confidence and the floor under which it is no digit mean the same everywhere.

A model has ten outputs (the digits) or eleven: the eleventh is "not a digit" (a letter, a
symbol, a scribble, a shadow).  Either way a reading keeps the ten digits' probabilities, and
the eleventh apart (``not_a_digit``, 0 for a ten-class model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DECIMALS = 6  # probabilities and confidences in JSON
NOT_A_DIGIT = 10  # the eleventh output's index
REASON_NOT_A_DIGIT = "not a digit"  # the model's own answer
REASON_UNSURE = "unsure"  # the most likely digit is under the confidence floor


@dataclass(frozen=True)
class Reading:
    """One digit read: the model's answer for one 28x28 input.

    ``digit`` is None ("no digit") when the model answers "not a digit" (``reason`` "not a
    digit", ``confidence`` its probability) or when the most likely digit's probability is
    under the confidence floor (``reason`` "unsure", ``confidence`` that probability).
    ``probabilities`` are the ten digits'; ``not_a_digit`` the eleventh output's (None for a model
    without it).  ``box`` is
    where the digit is, (x0, y0, x1, y1) in the image's pixels, when it was found among others.
    """

    digit: int | None
    confidence: float
    probabilities: tuple[float, ...]
    box: tuple[int, int, int, int] | None = None
    not_a_digit: float | None = None
    reason: str | None = None

    @classmethod
    def from_probabilities(cls, probabilities, min_confidence: float = 0.0, box=None,
                           sure_not_a_digit: float | None = None) -> Reading:
        """The reading of one row of probabilities (10 or 11): the most likely digit, None when "not a
        digit" is likelier than every digit or the digit is under ``min_confidence``.

        With ``sure_not_a_digit`` (a camera frame's candidates, which its rules found digit-like),
        "not a digit" is the answer only at that probability or more, and the digit's confidence
        is its probability among the ten digits (given that it is one)."""
        p = np.asarray(probabilities, dtype=np.float64)
        digits, rest = p[:NOT_A_DIGIT], float(p[NOT_A_DIGIT]) if len(p) > NOT_A_DIGIT else None
        digit = int(digits.argmax())
        confidence = float(digits[digit])
        box = None if box is None else tuple(int(v) for v in box)
        values = tuple(float(v) for v in digits)
        if rest is not None and sure_not_a_digit is not None:
            if rest >= sure_not_a_digit:
                return cls(None, rest, values, box, rest, REASON_NOT_A_DIGIT)
            confidence = confidence / max(1.0 - rest, 1e-9)
        elif rest is not None and rest > confidence:
            return cls(None, rest, values, box, rest, REASON_NOT_A_DIGIT)
        if confidence < min_confidence:
            return cls(None, confidence, values, box, rest, REASON_UNSURE)
        return cls(digit, confidence, values, box, rest)

    @property
    def symbol(self) -> str:
        """The digit as a character, "?" for no digit."""
        return "?" if self.digit is None else str(self.digit)

    def top(self, k: int) -> list[tuple[int, float]]:
        """The ``k`` most likely digits with their probabilities, most likely first."""
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), self.probabilities[d]) for d in order]

    def as_dict(self, probabilities: bool = True) -> dict:
        """The JSON form: digit, confidence, the reason when there is no digit, the ten probabilities
        and "not a digit"'s (and the box, if any)."""
        out = {"digit": self.digit, "confidence": round(self.confidence, DECIMALS)}
        if self.reason is not None:
            out["reason"] = self.reason
        if probabilities:
            out["probabilities"] = [round(p, DECIMALS) for p in self.probabilities]
            if self.not_a_digit is not None:
                out["not_a_digit"] = round(self.not_a_digit, DECIMALS)
        if self.box is not None:
            out["box"] = list(self.box)
        return out


@dataclass(frozen=True)
class NumberReading:
    """Several digits read left to right: a number.  Marks the model calls "not a digit" (a dash,
    a speck, a letter beside the number) are not part of it and are left out of ``digits``."""

    digits: tuple[Reading, ...]

    @classmethod
    def of(cls, readings_: list[Reading]) -> NumberReading:
        """The number made of ``readings_``, without those that are "not a digit"."""
        return cls(tuple(r for r in readings_ if r.reason != REASON_NOT_A_DIGIT))

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


MUST_BE_A_DIGIT = np.inf  # as ``sure_not_a_digit``: a reading that is never "not a digit"


def _drop_weights(spans, droppable) -> np.ndarray:
    """How readily each candidate may be left out as "not a digit": ``droppable`` (True is 1, False 0),
    by default 1 for each single piece and 0 for the rest."""
    return np.asarray([last - first == 1 for first, last in spans] if droppable is None else droppable, np.float64)


def _scores(spans, probabilities: np.ndarray, droppable) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's log-probability read as its likeliest digit, and read as "not a digit" and left
    out (weighed by ``droppable``; -inf where it may not be, and for a model without that class)."""
    log = np.log(np.clip(probabilities, 1e-9, 1.0))
    digit = log[:, :NOT_A_DIGIT].max(axis=1)
    if probabilities.shape[1] <= NOT_A_DIGIT:
        return digit, np.full(len(digit), -np.inf)
    with np.errstate(divide="ignore"):
        return digit, log[:, NOT_A_DIGIT] + np.log(_drop_weights(spans, droppable))


def best_spans(pieces: int, spans: list[tuple[int, int]], probabilities: np.ndarray,
               droppable: list[float] | None = None, prior: list[float] | None = None) -> list[int]:
    """The likeliest way to read a number cut into ``pieces``: the candidates (indices into
    ``spans``, left to right) that cover every piece once, where candidate k covers pieces
    ``spans[k]`` = (first, last) and has the row ``probabilities[k]``, with the largest product of
    their probabilities (each times ``prior[k]``, if given).  A candidate counts as its most
    likely digit or, for a model with a "not a digit" class, as "not a digit" when that is
    likelier and it may be left out (``droppable[k]``; by default, a single piece: a dash, a speck,
    half a digit beside the number; ``NumberReading.of`` then leaves it out); pieces taken
    together, or a slice of touching digits, must be a digit (that they are not one digit says
    nothing about them apart).  A ``droppable[k]`` between 0 and 1 weighs "not a digit" by it (a
    piece as tall as the number's digits is likelier one of them than the model alone says)."""
    probs = np.asarray(probabilities, np.float64)
    if not len(spans):
        return []
    score = np.maximum(*_scores(spans, probs, droppable))
    if prior is not None:
        score = score + np.log(np.asarray(prior, np.float64))
    best = np.full(pieces + 1, -np.inf)
    best[0] = 0.0
    came: list[int | None] = [None] * (pieces + 1)
    for k in sorted(range(len(spans)), key=lambda k: spans[k][1]):  # every way into `first` is known first
        first, last = spans[k]
        if best[first] + score[k] > best[last]:
            best[last], came[last] = best[first] + score[k], k
    chosen, at = [], pieces
    while at > 0 and came[at] is not None:
        chosen.append(came[at])
        at = spans[came[at]][0]
    return chosen[::-1]


def best_number(pieces: int, spans: list[tuple[int, int]], probabilities: np.ndarray, min_confidence: float = 0.0,
                boxes=None, droppable: list[float] | None = None, prior: list[float] | None = None) -> NumberReading:
    """The number that ``best_spans`` reads, each digit with its box (``boxes[k]``, if given)."""
    return NumberReading.of([r for _, r in chosen_readings(pieces, spans, probabilities, min_confidence, boxes,
                                                           droppable, prior)])


def chosen_readings(pieces: int, spans: list[tuple[int, int]], probabilities: np.ndarray, min_confidence: float = 0.0,
                    boxes=None, droppable: list[float] | None = None,
                    prior: list[float] | None = None) -> list[tuple[int, Reading]]:
    """The candidates ``best_spans`` chooses, each with its reading, its "not a digit" marks too (what
    ``best_number`` and ``classify --collect`` read).  A piece counted as a digit only because "not a
    digit" weighed less there (``droppable`` under 1) is read as its digit, its confidence its share
    among the digits."""
    boxes = boxes if boxes is not None else [None] * len(spans)
    chosen = best_spans(pieces, spans, probabilities, droppable, prior)
    if not chosen:
        return []
    probs = np.asarray(probabilities, np.float64)
    weights = _drop_weights(spans, droppable)
    digit, dropped = _scores(spans, probs, droppable)

    def must_be_a_digit(k: int) -> bool:  # counted a digit against the model's own likeliest answer
        return (0 < weights[k] < 1 and digit[k] >= dropped[k] and probs.shape[1] > NOT_A_DIGIT
                and probs[k, NOT_A_DIGIT] > probs[k, :NOT_A_DIGIT].max())

    return [(k, Reading.from_probabilities(probs[k], min_confidence, boxes[k],
                                           MUST_BE_A_DIGIT if must_be_a_digit(k) else None)) for k in chosen]


def readings(probabilities: np.ndarray, min_confidence: float = 0.0, boxes=None,
             sure_not_a_digit: float | None = None) -> list[Reading]:
    """A Reading per row of an (N, 10 or 11) probability array (with each row's box, if given;
    ``sure_not_a_digit`` as for ``Reading.from_probabilities``)."""
    boxes = boxes if boxes is not None else [None] * len(probabilities)
    return [Reading.from_probabilities(p, min_confidence, b, sure_not_a_digit) for p, b in zip(probabilities, boxes)]
