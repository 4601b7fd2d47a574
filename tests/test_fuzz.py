"""The image path under malformed and random input: a digit or a clear error, never anything else."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from digitlite.benchmarks.reliability import (
    SIGNATURES,
    huge_png,
    malformed_corpus,
    random_files,
    run,
)
from digitlite.edge.vision.decode import load_image
from digitlite.edge.vision.errors import ImageError
from digitlite.edge.vision.inputs import preprocess_file
from digitlite.edge.vision.preprocess import preprocess_gray


def _digit_or_clear_error(make) -> None:
    """``make()`` returns a 28x28 uint8 input or raises ImageError; nothing else is allowed."""
    try:
        out = make()
    except ImageError:
        return
    assert out.shape == (28, 28) and out.dtype == np.uint8


def test_generated_corpus_gives_digits_or_clear_errors():
    corpus = malformed_corpus()
    result = run(corpus + random_files(300))
    assert result["other_exception"] == 0, result["failures"]
    assert result["tried"] == len(corpus) + 300
    assert result["digit"] >= 20  # the intact files are read
    assert result["slowest_seconds"] < 5  # nothing hangs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SIGNATURES), st.binary(max_size=3000))
def test_random_bytes_behind_real_signatures(signature, tail):
    _digit_or_clear_error(lambda: preprocess_file(signature + tail, "fuzz"))


@settings(max_examples=200, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 80), st.integers(1, 80)),
              elements=st.floats(0, 255, width=32)))
def test_any_grayscale_array(gray):
    _digit_or_clear_error(lambda: preprocess_gray(gray, "array"))


def test_no_pillow_warning_escapes():
    corpus = malformed_corpus()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, data in corpus:
            try:
                load_image(data, name)
            except ImageError:
                pass
    assert [str(w.message) for w in caught] == []


def test_a_huge_header_is_refused_before_decoding():
    with pytest.raises(ImageError, match="too large"):
        load_image(huge_png(), "huge.png")


def test_classify_on_the_corpus_is_one_line_per_bad_file(tmp_path):
    for k, (name, data) in enumerate(malformed_corpus()[:40]):
        (tmp_path / f"{k:02d}.img").write_bytes(data)
    result = run_cli("classify", *sorted(str(p) for p in tmp_path.iterdir()))
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr
    answered = len(result.stdout.strip().splitlines())
    errors = [line for line in result.stderr.splitlines() if line.startswith("digitlite: error: ")]
    assert answered + len(errors) == 40
    assert result.stderr.strip().splitlines()[-1] == f"{answered} of 40 images classified, {len(errors)} failed"
    if errors:
        assert result.returncode == 1
        assert_one_line_error(type(result)(result.args, 1, "", errors[-1] + "\n"), "digitlite: error")
