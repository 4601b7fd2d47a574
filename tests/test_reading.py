"""One reading type and one "no digit" rule for classify, camera, serve and the API."""

from __future__ import annotations

import numpy as np
import pytest

from digitlite.edge.runtime.reading import (
    NumberReading,
    Reading,
    best_number,
    best_spans,
    readings,
)

pytestmark = pytest.mark.edge


def test_under_the_floor_is_no_digit_with_its_confidence_kept():
    p = np.full(10, 0.05, np.float32)
    p[4] = 0.55
    assert Reading.from_probabilities(p).digit == 4
    unsure = Reading.from_probabilities(p, min_confidence=0.6)
    assert unsure.digit is None and unsure.confidence == pytest.approx(0.55) and unsure.symbol == "?"
    assert Reading.from_probabilities(p, min_confidence=0.55).digit == 4  # the floor itself is enough
    assert unsure.as_dict() == {"digit": None, "confidence": 0.55, "reason": "unsure",
                                "probabilities": [round(float(v), 6) for v in p]}
    assert [d for d, _ in Reading.from_probabilities(p).top(2)][0] == 4


def test_a_number_reads_unknown_digits_as_question_marks_and_no_digit_as_empty():
    sure, unsure = np.eye(10)[7], np.full(10, 0.1)
    boxes = [(0, 0, 5, 9), (6, 0, 11, 9)]
    assert NumberReading(tuple(readings(np.stack([sure, unsure]), 0.5, boxes))).number == "7?"
    nothing = NumberReading(tuple(readings(np.stack([unsure, unsure]), 0.5, boxes)))
    assert nothing.number == "" and nothing.as_dict()["digits"][0] == {"digit": None, "confidence": 0.1,
                                                                        "reason": "unsure", "box": [0, 0, 5, 9]}
    assert NumberReading(()).number == ""


def eleven(digit_probs, not_a_digit):
    """A row of an eleven-class model's output: ten digits' probabilities, then "not a digit"'s."""
    return np.append(np.asarray(digit_probs, np.float64), not_a_digit)


def test_not_a_digit_is_an_answer_with_its_own_confidence_and_reason():
    letter = eleven(np.full(10, 0.01), 0.9)
    r = Reading.from_probabilities(letter)
    assert r.digit is None and r.reason == "not a digit" and r.confidence == pytest.approx(0.9)
    assert r.not_a_digit == pytest.approx(0.9) and len(r.probabilities) == 10 and r.symbol == "?"
    assert r.as_dict() == {"digit": None, "confidence": 0.9, "reason": "not a digit",
                           "probabilities": [0.01] * 10, "not_a_digit": 0.9}
    digit = eleven(np.eye(10)[3] * 0.8, 0.2)
    assert Reading.from_probabilities(digit).digit == 3 and Reading.from_probabilities(digit).reason is None
    assert Reading.from_probabilities(digit).as_dict()["not_a_digit"] == 0.2
    assert Reading.from_probabilities(digit, min_confidence=0.9).reason == "unsure"  # the floor still holds
    # a ten-class model says nothing about "not a digit": no such field, no such reason
    ten = Reading.from_probabilities(np.eye(10)[3])
    assert ten.not_a_digit is None and "not_a_digit" not in ten.as_dict()


def test_a_number_leaves_out_what_is_not_a_digit():
    rows = np.stack([eleven(np.eye(10)[4] * 0.95, 0.05), eleven(np.full(10, 0.0), 1.0), eleven(np.eye(10)[2], 0.0)])
    number = NumberReading.of(readings(rows, 0.0, [(0, 0, 5, 9), (6, 4, 8, 5), (9, 0, 14, 9)]))
    assert number.number == "42" and [d.box for d in number.digits] == [(0, 0, 5, 9), (9, 0, 14, 9)]
    assert NumberReading.of(readings(rows[1:2])).number == ""


def test_the_likeliest_cut_of_a_number_wins():
    # pieces 0, 1, 2: 0 and 1 are the two strokes of a 4 (each alone a poor digit), 2 is a 7
    spans = [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)]
    rows = np.stack([eleven(np.eye(10)[1] * 0.4, 0.6), eleven(np.eye(10)[1] * 0.5, 0.5), eleven(np.eye(10)[7], 0.0),
                     eleven(np.eye(10)[4] * 0.97, 0.03), eleven(np.eye(10)[9] * 0.3, 0.7)])
    assert best_spans(3, spans, rows) == [3, 2]
    assert best_number(3, spans, rows).number == "47"
    # two confident ones beat a doubtful merge of them
    rows = np.stack([np.eye(10)[1], np.eye(10)[1], np.eye(10)[0], np.eye(10)[4] * 0.6 + 0.04, np.eye(10)[0]])
    assert best_number(3, spans, rows).number == "110"
    assert best_spans(0, [], np.zeros((0, 10))) == []


def test_a_camera_candidate_is_not_a_digit_only_when_the_model_is_sure():
    # what a frame's rules kept, the model calls "not a digit" at 70% (a blurred 3): the camera reads
    # the 3, its confidence its share among the digits; a still image answers "not a digit"
    p = np.zeros(11)
    p[3], p[8], p[10] = 0.27, 0.03, 0.70
    still = Reading.from_probabilities(p, 0.6)
    assert still.digit is None and still.reason == "not a digit"
    frame = Reading.from_probabilities(p, 0.6, sure_not_a_digit=0.95)
    assert frame.digit == 3 and frame.confidence == pytest.approx(0.9) and frame.not_a_digit == pytest.approx(0.7)
    p[3], p[10] = 0.02, 0.95  # sure: not a digit, in a frame too
    assert Reading.from_probabilities(p, 0.6, sure_not_a_digit=0.95).reason == "not a digit"
    p[3], p[8], p[10] = 0.05, 0.05, 0.9  # no digit likelier than the others among the ten: unsure
    assert Reading.from_probabilities(p, 0.6, sure_not_a_digit=0.95).reason == "unsure"
    ten = np.eye(10)[5] * 0.5 + 0.05  # a ten-class model: the rule has nothing to weigh
    assert Reading.from_probabilities(ten, 0.0, sure_not_a_digit=0.95) == Reading.from_probabilities(ten, 0.0)
    rows = readings(np.stack([p, p]), 0.6, None, 0.95)
    assert [r.reason for r in rows] == ["unsure", "unsure"]


def test_a_slice_of_touching_ink_is_never_left_out_and_an_unsure_cut_weighs_less():
    # pieces 0, 1, 2 of one run of touching ink (half a ring, the rings' crossing, the other ring):
    # the first two alone "not a digit", together a 0
    spans = [(0, 1), (1, 2), (2, 3), (0, 2)]
    rows = np.stack([eleven(np.full(10, 0.0), 1.0), eleven(np.full(10, 0.0), 1.0), eleven(np.eye(10)[0] * 0.99, 0.01),
                     eleven(np.eye(10)[0] * 0.95, 0.05)])
    assert best_number(3, spans, rows).number == "0"  # each single piece may be left out: one 0
    droppable = [False, False, False, False]
    assert best_number(3, spans, rows, droppable=droppable).number == "00"
    # a cut through ink, however sure the model, does not outvote a clean cut read nearly as well
    spans = [(0, 1), (1, 2), (0, 2)]
    rows = np.stack([eleven(np.eye(10)[4] * 0.9, 0.1), eleven(np.eye(10)[9] * 0.8, 0.2), eleven(np.eye(10)[4], 0.0)])
    assert best_number(2, spans, rows).number == "4"
    assert best_number(2, spans, rows, prior=[1.0, 1.0, 0.5]).number == "49"


def test_not_a_digit_weighs_less_for_a_piece_as_tall_as_the_numbers_digits():
    # 0, a thin 1 the model calls "not a digit" at 55%, 2: left out by default (0123456789 read
    # 023456789); weighed half, as the reader weighs a piece as tall as its number's digits, it is the
    # 1, its confidence its share among the digits; a mark the model is sure of is still left out
    spans = [(0, 1), (1, 2), (2, 3)]
    one = np.zeros(10)
    one[1], one[7] = 0.4, 0.05
    rows = np.stack([eleven(np.eye(10)[0] * 0.99, 0.01), eleven(one, 0.55), eleven(np.eye(10)[2] * 0.99, 0.01)])
    assert best_number(3, spans, rows).number == "02"
    read = best_number(3, spans, rows, droppable=[1.0, 0.5, 1.0])
    assert read.number == "012"
    assert read.digits[1].confidence == pytest.approx(0.4 / 0.45) and read.digits[1].not_a_digit == pytest.approx(0.55)
    rows[1] = eleven(np.eye(10)[1] * 0.1, 0.9)
    assert best_number(3, spans, rows, droppable=[1.0, 0.5, 1.0]).number == "02"
    # a ten-class model has no "not a digit" to weigh
    assert best_number(3, spans, rows[:, :10], droppable=[1.0, 0.5, 1.0]).number == "012"
