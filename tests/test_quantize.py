"""`digitlite quantize`: int8 conversion, model cards checked independently, the gate, bad input."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli


def test_every_variant_is_written_with_its_card(quantized):
    out, result = quantized
    for variant in ("int8", "float32", "float16", "dynamic"):
        data = (out / f"digits_{variant}.tflite").read_bytes()
        card = json.loads((out / f"digits_{variant}.json").read_text())
        assert card["size_bytes"] == len(data)
        assert card["sha256"] == hashlib.sha256(data).hexdigest()
        assert card["variant"] == variant and card["status"] == "passed"
        assert card["test_images"] == 10000 and len(card["per_class_accuracy"]) == 10
        assert card["drop_points"] == pytest.approx((card["float_accuracy"] - card["tflite_accuracy"]) * 100, abs=1e-3)
        assert variant in result.stdout
    assert not list(out.glob(".*"))  # no temp files
    assert "XNNPACK" not in result.stderr


def test_int8_card_matches_an_independent_evaluation(quantized, tiny_model, mnist):
    """Re-evaluate with TensorFlow's own interpreter and Keras, not with the code under test."""
    import keras
    import tensorflow as tf

    out, _ = quantized
    card = json.loads((out / "digits_int8.json").read_text())
    assert card["full_integer"] is True
    assert card["input"]["dtype"] == "uint8" and card["output"]["dtype"] == "uint8"

    interp = tf.lite.Interpreter(model_path=str(out / "digits_int8.tflite"))
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    assert inp["dtype"] == np.uint8
    assert (inp["quantization"][0], inp["quantization"][1]) == pytest.approx((card["input"]["scale"], card["input"]["zero_point"]))
    interp.resize_tensor_input(inp["index"], (10000, 28, 28, 1))
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], mnist.test_images[..., None])
    interp.invoke()
    tflite_pred = interp.get_tensor(outp["index"]).argmax(axis=1)
    assert np.mean(tflite_pred == mnist.test_labels) == pytest.approx(card["tflite_accuracy"], abs=1e-9)
    per_class = [np.mean(tflite_pred[mnist.test_labels == d] == d) for d in range(10)]
    np.testing.assert_allclose(card["per_class_accuracy"], per_class, atol=1e-6)

    model = keras.models.load_model(tiny_model)
    float_pred = model.predict(mnist.test_images[..., None].astype(np.float32), verbose=0).argmax(axis=1)
    assert np.mean(float_pred == mnist.test_labels) == pytest.approx(card["float_accuracy"], abs=1e-9)
    for op in card["operators"]:
        assert not {"float32", "float16"} & set(op["dtypes"]), op


def test_eval_on_the_tflite_model_agrees_with_the_card(quantized, mnist_dir):
    out, _ = quantized
    card = json.loads((out / "digits_int8.json").read_text())
    result = run_cli("eval", str(out / "digits_int8.tflite"), "--json", "--data-dir", str(mnist_dir))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(card["tflite_accuracy"])


def test_full_integer_check_catches_a_float_model(quantized):
    from digitlite.edge.runtime.interpreter import Model

    out, _ = quantized
    assert Model(out / "digits_int8.tflite").float_operators() == []
    assert "CONV_2D" in Model(out / "digits_float32.tflite").float_operators()
    assert Model(out / "digits_dynamic.tflite").float_operators()  # int8 weights, float activations


def test_impossible_gate_fails_and_keeps_the_previous_model(tiny_model, tmp_path, mnist_dir):
    previous = b"previous good int8 model"
    (tmp_path / "digits_int8.tflite").write_bytes(previous)
    result = run_cli("quantize", str(tiny_model), "--out", str(tmp_path), "--max-drop", "-1",
                     "--calibration-samples", "100", "--data-dir", str(mnist_dir))
    assert_one_line_error(result, "more than --max-drop -1", "left as it was", "digits_int8.rejected.json")
    assert (tmp_path / "digits_int8.tflite").read_bytes() == previous
    rejected = json.loads((tmp_path / "digits_int8.rejected.json").read_text())
    assert rejected["status"] == "rejected" and rejected["problems"]
    assert not (tmp_path / "digits_int8.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits_int8.rejected.json", "digits_int8.tflite"]


def test_the_batch_one_twin_answers_every_test_image_as_the_int8_model(quantized, mnist):
    """The fixed-batch model (what LiteRT.js runs) has static shapes and the int8 model's very outputs."""
    from digitlite.edge.runtime.interpreter import Model

    out, result = quantized
    card = json.loads((out / "digits_int8_b1.json").read_text())
    assert card["batch"] == 1 and card["status"] == "passed" and card["full_integer"] is True
    assert card["same_as"] == {"file": "digits_int8.tflite", "predictions": 10000, "outputs": 10000, "of": 10000}
    twin, int8 = Model(out / "digits_int8_b1.tflite"), Model(out / "digits_int8.tflite")
    assert twin.fixed_batch == 1 and int8.fixed_batch is None
    ops = {o["op"] for o in twin.operators()}
    assert not ops & {"SHAPE", "STRIDED_SLICE", "PACK"}  # no shape arithmetic left: every shape is static
    images = mnist.test_images[:300]
    np.testing.assert_array_equal(twin.predict_proba(images), int8.predict_proba(images))
    with pytest.raises(ValueError, match="batches of exactly 1"):
        twin.invoke(twin.to_input(images[:2]))
    assert any(line.startswith("int8 b1 ") and line.endswith(str(out / "digits_int8_b1.tflite"))
               for line in result.stdout.splitlines())


def test_a_batch_one_twin_that_answers_differently_is_refused(tiny_model, tmp_path, mnist_dir, monkeypatch):
    """Were the twin to differ from the int8 model (here: its last layer's bias changed), it is not written."""
    from digitlite.edge.util.errors import DigitliteError
    from digitlite.quantize import quantize as q
    from digitlite.quantize.config import QuantizeConfig

    real = q.with_fixed_batch

    def skewed(model):
        fixed = real(model)
        kernel, bias = fixed.layers[-1].get_weights()
        bias[3] += 50.0  # "3" wins everywhere
        fixed.layers[-1].set_weights([kernel, bias])
        return fixed

    monkeypatch.setattr(q, "with_fixed_batch", skewed)
    config = QuantizeConfig(model=str(tiny_model), out=str(tmp_path), max_drop=5, calibration_samples=100,
                            data_dir=str(mnist_dir))
    with pytest.raises(DigitliteError, match=r"the batch-1 model predicts \d+ test images differently from "
                                             r"digits_int8.tflite.*digits_int8_b1.rejected.json"):
        q.quantize(config, log=open("/dev/null", "w"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "digits_int8.json", "digits_int8.tflite", "digits_int8_b1.rejected.json"]


def test_table_says_where_each_model_went_and_what_the_drop_means(quantized):
    out, result = quantized
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["variant", "size", "accuracy", "drop", "status", "written", "to"]
    int8 = next(line for line in lines if line.startswith("int8 "))
    assert int8.endswith(f"passed    {out / 'digits_int8.tflite'}") and " pts " in int8
    assert "drop: its accuracy minus the converted model's, in percentage points" in lines[-1]


def test_int8_io_type_gives_int8_input(tiny_model, tmp_path, mnist_dir):
    result = run_cli("quantize", str(tiny_model), "--out", str(tmp_path), "--io-type", "int8", "--max-drop", "5",
                     "--calibration-samples", "100", "--data-dir", str(mnist_dir), "--json")
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)[0]
    assert card["input"]["dtype"] == "int8" and card["full_integer"] is True
    assert card["tflite_accuracy"] > 0.5


def test_calibration_sample_is_stratified_and_seeded(mnist):
    from digitlite.quantize.convert import representative_images

    a = representative_images(mnist.train_images, mnist.train_labels, 105, seed=3)
    b = representative_images(mnist.train_images, mnist.train_labels, 105, seed=3)
    assert a.shape == (105, 28, 28) and np.array_equal(a, b)
    # every calibration image is a training image of the class counts asked for
    index = {img.tobytes(): lab for img, lab in zip(mnist.train_images, mnist.train_labels)}
    counts = np.bincount([index[img.tobytes()] for img in a], minlength=10)
    assert counts.tolist() == [11, 11, 11, 11, 11, 10, 10, 10, 10, 10]


@pytest.mark.parametrize("make, fragments", [
    (lambda p: p / "missing.keras", ["missing.keras", "no such model file"]),
    (lambda p: (p / "junk.keras").write_bytes(b"not a zip") and p / "junk.keras", ["junk.keras", "not a Keras model"]),
])
def test_bad_model_files(make, fragments, tmp_path, mnist_dir):
    path = make(tmp_path)
    result = run_cli("quantize", str(path), "--out", str(tmp_path / "out"), "--data-dir", str(mnist_dir))
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.tflite"))


def test_wrong_input_shape_is_refused(tmp_path, mnist_dir):
    import keras

    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)))
    model.save(tmp_path / "cifar.keras")
    result = run_cli("quantize", str(tmp_path / "cifar.keras"), "--data-dir", str(mnist_dir))
    assert_one_line_error(result, "cifar.keras", "input shape", "not a digit classifier")
    assert not list(tmp_path.glob("*.tflite"))


def test_unwritable_output_folder(tiny_model, tmp_path, mnist_dir):
    (tmp_path / "file").write_text("a file where the folder should be")
    result = run_cli("quantize", str(tiny_model), "--out", str(tmp_path / "file" / "out"), "--data-dir", str(mnist_dir))
    assert_one_line_error(result, "output folder cannot be written")


def test_missing_data_folder(tiny_model, tmp_path):
    result = run_cli("quantize", str(tiny_model), "--out", str(tmp_path), "--data-dir", str(tmp_path / "nodata"))
    assert_one_line_error(result, "nodata", "no such folder")
    assert not list(tmp_path.glob("*.tflite"))


def test_a_keras_file_that_is_a_zip_of_something_else(tmp_path, mnist_dir):
    with zipfile.ZipFile(tmp_path / "other.keras", "w") as z:
        z.writestr("hello.txt", "not a model")
    result = run_cli("quantize", str(tmp_path / "other.keras"), "--data-dir", str(mnist_dir))
    assert_one_line_error(result, "other.keras", "not a Keras model")
