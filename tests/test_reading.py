"""One reading type and one "no digit" rule for classify, camera, serve and the API."""

from __future__ import annotations

import numpy as np
import pytest

from digitlite.edge.reading import NumberReading, Reading, readings

pytestmark = pytest.mark.edge


def test_under_the_floor_is_no_digit_with_its_confidence_kept():
    p = np.full(10, 0.05, np.float32)
    p[4] = 0.55
    assert Reading.from_probabilities(p).digit == 4
    unsure = Reading.from_probabilities(p, min_confidence=0.6)
    assert unsure.digit is None and unsure.confidence == pytest.approx(0.55) and unsure.symbol == "?"
    assert Reading.from_probabilities(p, min_confidence=0.55).digit == 4  # the floor itself is enough
    assert unsure.as_dict() == {"digit": None, "confidence": 0.55, "probabilities": [round(float(v), 6) for v in p]}
    assert [d for d, _ in Reading.from_probabilities(p).top(2)][0] == 4


def test_a_number_reads_unknown_digits_as_question_marks_and_no_digit_as_empty():
    sure, unsure = np.eye(10)[7], np.full(10, 0.1)
    boxes = [(0, 0, 5, 9), (6, 0, 11, 9)]
    assert NumberReading(tuple(readings(np.stack([sure, unsure]), 0.5, boxes))).number == "7?"
    nothing = NumberReading(tuple(readings(np.stack([unsure, unsure]), 0.5, boxes)))
    assert nothing.number == "" and nothing.as_dict()["digits"][0] == {"digit": None, "confidence": 0.1,
                                                                        "box": [0, 0, 5, 9]}
    assert NumberReading(()).number == ""
