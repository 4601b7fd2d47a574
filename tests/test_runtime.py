"""The edge runtime: interpreters, input types, batching, bad model files, and no TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, assert_one_line_error, prepared, run_cli

from digitlite.edge.runtime.interpreter import Model, interpreter_class
from digitlite.edge.util.errors import DigitliteError

SHIPPED = REPO / "edge" / "models" / "digits_int8.tflite"


@pytest.mark.parametrize("variant", ["int8", "float32", "float16", "dynamic"])
def test_every_variant_gives_probabilities(quantized, mnist, variant):
    out, _ = quantized
    clf = Model(out / f"digits_{variant}.tflite")
    probs = clf.predict_proba(mnist.test_images[:300])
    assert probs.shape == (300, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.02)  # int8 softmax: steps of 1/256
    assert np.mean(probs.argmax(axis=1) == mnist.test_labels[:300]) > 0.5


def test_batched_and_single_image_predictions_agree(quantized, mnist):
    out, _ = quantized
    clf = Model(out / "digits_int8.tflite")
    images = mnist.test_images[:40]
    batched = clf.predict_proba(images, batch_size=16)  # 16, 16, 8: resizes and re-allocates
    single = np.concatenate([clf.predict_proba(img) for img in images])
    np.testing.assert_array_equal(batched, single)


def test_int8_input_model_is_fed_correctly(quantized, mnist, tmp_path, tiny_model, mnist_dir):
    result = run_cli("quantize", str(tiny_model), "--out", str(tmp_path), "--io-type", "int8", "--max-drop", "5",
                     "--calibration-samples", "100", "--data-dir", str(mnist_dir))
    assert result.returncode == 0, result.stderr
    out, _ = quantized
    as_int8 = Model(tmp_path / "digits_int8.tflite")
    as_uint8 = Model(out / "digits_int8.tflite")
    assert as_int8.input_dtype == np.int8 and as_uint8.input_dtype == np.uint8
    agree = np.mean(as_int8.predict_proba(mnist.test_images[:500]).argmax(1)
                    == as_uint8.predict_proba(mnist.test_images[:500]).argmax(1))
    assert agree > 0.99  # same float model, separately calibrated


def _outputs_in(python: str, model, runtime: str, env=None) -> dict:
    """Raw uint8 outputs of ``model`` on the 10,000 test images, computed in another interpreter process."""
    code = (
        "import json, sys\n"
        "from digitlite.edge.data.mnist import load_mnist\n"
        "from digitlite.edge.runtime.interpreter import Model\n"
        f"clf = Model({str(model)!r}, runtime={runtime!r})\n"
        "x = clf.to_input(load_mnist().test_images)\n"
        "raw = [clf.invoke(x[i:i + 500]).tolist() for i in range(0, len(x), 500)]\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras') or m.startswith(('digitlite.train', 'digitlite.quantize')))\n"
        "print(json.dumps({'runtime': clf.runtime, 'raw': sum(raw, []), 'heavy': heavy}))\n"
    )
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300, cwd=str(REPO),
                            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    out["raw"] = np.array(out["raw"], dtype=np.int64)
    return out


@pytest.fixture(scope="session")
def tflite_runtime_python():
    """The environment tests/prepare.sh makes: tflite-runtime, NumPy 1 and Pillow, no TensorFlow.

    tflite-runtime's last release (2.14) needs NumPy 1; a second environment checks the claim
    'runs with only tflite-runtime' rather than assuming it.
    """
    python = str(prepared(".venv-tflite") / "bin" / "python")
    check = subprocess.run([python, "-c", "import tflite_runtime, importlib.util as u; "
                            "assert not u.find_spec('tensorflow') and not u.find_spec('ai_edge_litert')"],
                           capture_output=True, text=True)
    assert check.returncode == 0, f".venv-tflite must hold tflite-runtime and no other interpreter: {check.stderr}"
    return python


@pytest.fixture(scope="session")
def three_runtimes(tflite_runtime_python, mnist_dir):
    """Outputs of a model in ai-edge-litert, TensorFlow's tf.lite and tflite-runtime (its own venv)."""
    env = {"DIGITLITE_DATA": str(mnist_dir)}

    def run(model):
        return {
            "litert": _outputs_in(sys.executable, model, "litert", env),
            "tensorflow": _outputs_in(sys.executable, model, "tensorflow", env),
            "tflite": _outputs_in(tflite_runtime_python, model, "auto", env),
        }

    return run


def test_shipped_model_predicts_identically_in_all_three_runtimes(three_runtimes):
    outs = three_runtimes(SHIPPED)
    assert {name: o["runtime"] for name, o in outs.items()} == {"litert": "litert", "tensorflow": "tensorflow",
                                                               "tflite": "tflite"}
    preds = {name: o["raw"].argmax(axis=1) for name, o in outs.items()}
    assert len(preds["litert"]) == 10000
    np.testing.assert_array_equal(preds["litert"], preds["tensorflow"])
    np.testing.assert_array_equal(preds["litert"], preds["tflite"])
    assert outs["litert"]["heavy"] == [] and outs["tflite"]["heavy"] == []  # TensorFlow only where asked for


def test_runtimes_differ_only_by_rounding_and_only_near_ties_can_flip(quantized, three_runtimes):
    """On a barely-trained model, kernels that requantize differently may flip a near-tie; nothing else."""
    out, _ = quantized
    outs = three_runtimes(out / "digits_int8.tflite")
    ref = outs["litert"]["raw"]
    np.testing.assert_array_equal(ref, outs["tensorflow"]["raw"])  # same kernels: bit for bit
    other = outs["tflite"]["raw"]
    diff = np.abs(ref - other)
    assert diff.max() <= 16, diff.max()  # a few steps of 1/256, never a different answer in kind
    flipped = np.flatnonzero(ref.argmax(axis=1) != other.argmax(axis=1))
    top2 = np.sort(ref, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    assert np.all(margin[flipped] <= diff[flipped].max(axis=1) * 2)
    assert len(flipped) <= 50


def test_tflite_runtime_under_numpy2_is_a_clear_error(tmp_path):
    # Simulate the trap without installing anything: NumPy 2 reported, tflite-runtime 2.14 installed.
    code = (
        "import sys, types, numpy\n"
        "from importlib import metadata\n"
        "numpy.__version__ = '2.1.0'\n"
        "mod = types.ModuleType('tflite_runtime.interpreter'); mod.Interpreter = object\n"
        "sys.modules['tflite_runtime'] = types.ModuleType('tflite_runtime')\n"
        "sys.modules['tflite_runtime.interpreter'] = mod\n"
        "real = metadata.version\n"
        "metadata.version = lambda d: '2.14.0' if d == 'tflite-runtime' else real(d)\n"
        "from digitlite.edge.runtime.interpreter import interpreter_class\n"
        "from digitlite.edge.util.errors import DigitliteError\n"
        "try:\n    interpreter_class('tflite')\nexcept DigitliteError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO))
    assert "tflite-runtime 2.14.0 needs NumPy 1" in result.stdout and "numpy<2" in result.stdout


def test_unknown_runtime_and_missing_runtime():
    with pytest.raises(DigitliteError, match="unknown runtime 'onnx'"):
        interpreter_class("onnx")
    assert interpreter_class("auto")[0] == "litert"


@pytest.mark.parametrize("content, fragment", [
    (b"", "not a valid TFLite model"),
    (b"garbage" * 100, "not a valid TFLite model"),
    (b"PK\x03\x04 a zip, perhaps a .keras renamed", "not a valid TFLite model"),
])
def test_bad_model_files_are_one_line_errors(tmp_path, content, fragment, mnist_dir):
    path = tmp_path / "model.tflite"
    path.write_bytes(content)
    with pytest.raises(DigitliteError, match=fragment):
        Model(path)
    result = run_cli("eval", str(path), "--data-dir", str(mnist_dir))
    assert_one_line_error(result, "model.tflite", fragment)


def _convert(model) -> bytes:
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def test_a_tflite_model_that_is_not_a_digit_classifier(tmp_path):
    import keras

    inputs = keras.Input((32, 32, 3))
    rgb = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    (tmp_path / "rgb.tflite").write_bytes(_convert(rgb))
    with pytest.raises(DigitliteError, match=r"rgb\.tflite: input shape \(1, 32, 32, 3\).*not a digit classifier"):
        Model(tmp_path / "rgb.tflite")

    a, b = keras.Input((28, 28, 1)), keras.Input((28, 28, 1))
    two = keras.Model([a, b], keras.layers.Dense(10)(keras.layers.Flatten()(keras.layers.Add()([a, b]))))
    (tmp_path / "two.tflite").write_bytes(_convert(two))
    with pytest.raises(DigitliteError, match="expected one input and one output, found 2 and 1"):
        Model(tmp_path / "two.tflite")

    x = keras.Input((28, 28, 1))
    five = keras.Model(x, keras.layers.Dense(5)(keras.layers.Flatten()(x)))
    (tmp_path / "five.tflite").write_bytes(_convert(five))
    with pytest.raises(DigitliteError, match="expected 10 classes"):
        Model(tmp_path / "five.tflite")


def test_importing_edge_and_evaluating_never_loads_tensorflow(quantized, mnist_dir):
    out, _ = quantized
    code = (
        "import sys\n"
        "from digitlite.edge.cli import main\n"
        f"code = main(['eval', {str(out / 'digits_int8.tflite')!r}, '--samples', '200', '--data-dir', {str(mnist_dir)!r}])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras') or m.startswith(('digitlite.train', 'digitlite.quantize', 'digitlite.benchmarks')))\n"
        "print('HEAVY', heavy, code)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO))
    assert result.returncode == 0, result.stderr
    assert "HEAVY [] 0" in result.stdout, result.stdout
