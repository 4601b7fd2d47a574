"""`digitlite export --target mcu`: TensorFlow Lite Micro sources, a measured arena, the same predictions as LiteRT."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, assert_one_line_error, run_cli

SHIPPED = REPO / "edge" / "models" / "digits_int8.tflite"
MICRO = REPO / "edge" / "models" / "micronet_int8.tflite"


@pytest.fixture(scope="module", params=["digits_int8", "micronet_int8"])
def exported(request, tmp_path_factory, mnist_dir):
    model = REPO / "edge" / "models" / f"{request.param}.tflite"
    out = tmp_path_factory.mktemp("mcu") / "src"
    result = run_cli("export", str(out), "--target", "mcu", "--model", str(model),
                     env={"DIGITLITE_DATA": str(mnist_dir)})
    assert result.returncode == 0, result.stderr
    return model, out, json.loads((out / "bundle.json").read_text())


def test_the_folder_holds_the_sources_and_what_was_exported(exported):
    model, out, bundle = exported
    assert sorted(p.name for p in out.iterdir()) == ["README.txt", "SHA256SUMS", "bundle.json", "main.cc",
                                                     "model_data.cc", "model_data.h", "op_resolver.h",
                                                     "sample_digit.h"]
    assert bundle["model_bytes"] == model.stat().st_size
    assert bundle["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert bundle["arena_bytes"] == bundle["arena_measured_bytes"] + bundle["arena_margin_bytes"]
    assert bundle["ram_bytes"] == bundle["arena_bytes"] + 784
    card = json.loads(model.with_suffix(".json").read_text())
    assert bundle["accuracy"] == card["tflite_accuracy"]
    check = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "alignas(16) const unsigned char g_digits_model[]" in (out / "model_data.cc").read_text()
    assert f"constexpr size_t kTensorArenaSize = {bundle['arena_bytes']};" in (out / "model_data.h").read_text()


def test_the_resolver_names_exactly_the_models_operators(exported):
    from digitlite.edge.deploy.mcu import model_layers

    model, out, bundle = exported
    ops = sorted({layer["op"] for layer in model_layers(model.read_bytes())})
    resolver = (out / "op_resolver.h").read_text()
    assert f"tflite::MicroMutableOpResolver<{len(ops)}>" in resolver
    added = re.findall(r"resolver\.Add(\w+)\(\)", resolver)
    expected = {"CONV_2D": "Conv2D", "MAX_POOL_2D": "MaxPool2D", "FULLY_CONNECTED": "FullyConnected",
                "SOFTMAX": "Softmax", "QUANTIZE": "Quantize", "MEAN": "Mean", "RESHAPE": "Reshape",
                "SHAPE": "Shape", "STRIDED_SLICE": "StridedSlice", "PACK": "Pack"}
    assert added == [expected[o] for o in ops] and bundle["operators"] == ops
    assert "DELEGATE" not in ops  # the flatbuffer's operators, not an interpreter's delegated plan


def test_the_array_a_compiler_makes_is_the_model(exported, tmp_path):
    """g++ compiles model_data.cc; the bytes it holds at g_digits_model are the .tflite file's."""
    model, out, _ = exported
    (tmp_path / "dump.cc").write_text(
        '#include <cstdio>\n#include <cstdint>\n#include "model_data.h"\n'
        "int main() { if ((reinterpret_cast<uintptr_t>(g_digits_model) % 16) != 0) return 2;\n"
        "  return std::fwrite(g_digits_model, 1, g_digits_model_len, stdout) == g_digits_model_len ? 0 : 1; }\n")
    build = subprocess.run(["g++", "-std=c++17", "-O1", "-I", str(out), str(out / "model_data.cc"),
                            str(tmp_path / "dump.cc"), "-o", str(tmp_path / "dump")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    dumped = subprocess.run([str(tmp_path / "dump")], capture_output=True)
    assert dumped.returncode == 0 and dumped.stdout == model.read_bytes()
    sample = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-x", "c++", str(out / "sample_digit.h")],
                            capture_output=True, text=True)
    assert sample.returncode == 0, sample.stderr


def test_the_arena_is_the_smallest_that_runs_plus_the_margin(exported):
    from digitlite.edge.deploy.mcu import MicroModel, cmsis_nn_scratch, model_layers
    from digitlite.edge.util.errors import DigitliteError

    model, _, bundle = exported
    data = model.read_bytes()
    measured = bundle["arena_measured_bytes"]
    MicroModel(data, measured).invoke(np.zeros((28, 28), np.uint8))
    with pytest.raises(DigitliteError, match="cannot run the model in"):
        MicroModel(data, measured - 16).invoke(np.zeros((28, 28), np.uint8))
    assert bundle["arena_margin_bytes"] == cmsis_nn_scratch(model_layers(data)) > 0
    assert bundle["arena_allocations"]["total"] <= measured


def test_the_generated_sources_predict_what_litert_predicts(exported, mnist):
    """The bytes of model_data.cc, in TFLite Micro with the arena model_data.h states (a slice; the
    benchmark runs all 10,000)."""
    from digitlite.edge.deploy.mcu import load_sources
    from digitlite.edge.runtime.interpreter import Model

    model, out, _ = exported
    micro = load_sources(out)
    images = mnist.test_images[:300]
    tflm = micro.predict_proba(images)
    litert = Model(model).predict_proba(images)
    np.testing.assert_array_equal(tflm.argmax(axis=1), litert.argmax(axis=1))
    # TFLite Micro's reference kernels and LiteRT's optimized ones round some requantizations apart:
    # most outputs are identical, the others a few steps (1/256) off (the benchmark counts them)
    assert np.mean(np.abs(tflm - litert).max(axis=1) < 1e-9) >= 0.95
    sample = np.array([int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", (out / "sample_digit.h").read_text())],
                      np.uint8).reshape(28, 28)
    np.testing.assert_array_equal(sample, mnist.test_images[0])


def test_the_small_model_meets_its_budget():
    """micronet: at most 20 KB of int8 model, 16 KB of arena, 99.3% on the MNIST test set."""
    from digitlite.edge.deploy.mcu import cmsis_nn_scratch, model_layers, smallest_arena

    data = MICRO.read_bytes()
    card = json.loads(MICRO.with_suffix(".json").read_text())
    assert len(data) <= 20 * 1024 and card["tflite_accuracy"] >= 0.993 and card["full_integer"] is True
    assert smallest_arena(data) + cmsis_nn_scratch(model_layers(data)) <= 16 * 1024


@pytest.mark.parametrize("make, fragment", [
    (lambda tmp, q: str(tmp / "none.tflite"), "no such model file"),
    (lambda tmp, q: str(REPO / "README.md"), "not a valid TFLite model"),
    (lambda tmp, q: str(q / "digits_float32.tflite"), "not a full-integer model"),
])
def test_models_it_cannot_export_are_one_line(tmp_path, quantized, make, fragment):
    result = run_cli("export", str(tmp_path / "out"), "--target", "mcu", "--model", make(tmp_path, quantized[0]))
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "out").exists()


def test_an_occupied_folder_needs_force(tmp_path, mnist_dir):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.c").write_text("int x;")
    assert_one_line_error(run_cli("export", str(tmp_path / "out"), "--target", "mcu"), "folder is not empty")
    assert (tmp_path / "out" / "mine.c").read_text() == "int x;"


def test_without_tflite_micro_the_export_says_how_to_get_it(tmp_path, monkeypatch):
    blocker = tmp_path / "block"
    (blocker / "tflite_micro").mkdir(parents=True)
    (blocker / "tflite_micro" / "__init__.py").write_text("raise ImportError('no tflite-micro here')\n")
    result = run_cli("export", str(tmp_path / "out"), "--target", "mcu", env={"PYTHONPATH": str(blocker)})
    assert_one_line_error(result, "pip install 'digitlite[mcu]'")
    import platform

    from digitlite.edge.deploy import mcu
    from digitlite.edge.util.errors import DigitliteError

    for name in [m for m in sys.modules if m.split(".")[0] == "tflite_micro"] + ["tflite_micro"]:
        monkeypatch.setitem(sys.modules, name, None)  # not importable, as on a Pi
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    with pytest.raises(DigitliteError, match="x86_64 Linux only; this is Linux aarch64: export on such a PC"):
        mcu.import_tflm()


def test_names_and_margins():
    from digitlite.edge.deploy.mcu import cmsis_nn_scratch, resolver_method

    assert [resolver_method(o) for o in ("CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D")] == \
        ["AddConv2D", "AddMaxPool2D", "AddFullyConnected", "AddDepthwiseConv2D"]
    layers = [{"op": "CONV_2D", "weights": [16, 3, 3, 8]}, {"op": "CONV_2D", "weights": [16, 1, 1, 16]},
              {"op": "FULLY_CONNECTED", "weights": [10, 24]}, {"op": "SOFTMAX", "weights": []}]
    assert cmsis_nn_scratch(layers) == 2 * 9 * 8 * 2 + 48  # the 3x3 conv's im2col (288) + 40 B of sums -> 48


def test_a_copy_of_the_folder_still_loads(exported, tmp_path):
    from digitlite.edge.deploy.mcu import load_sources

    _, out, bundle = exported
    shutil.copytree(out, tmp_path / "copy")
    assert load_sources(tmp_path / "copy").arena_bytes == bundle["arena_bytes"]
    (tmp_path / "copy" / "model_data.h").write_text("// nothing here\n")
    from digitlite.edge.util.errors import DigitliteError

    with pytest.raises(DigitliteError, match="no kTensorArenaSize"):
        load_sources(tmp_path / "copy")


def test_the_default_is_the_batch_1_twin_where_its_parity_holds(tmp_path):
    """Without --model the export ships digits_int8_b1: its card says it answered the 10,000 test images
    as digits_int8 does, and it needs no SHAPE, STRIDED_SLICE or PACK kernel."""
    twin = REPO / "edge" / "models" / "digits_int8_b1.tflite"
    same = json.loads(twin.with_suffix(".json").read_text())["same_as"]
    assert same["file"] == "digits_int8.tflite" and same["predictions"] == same["of"] == 10000
    result = run_cli("export", str(tmp_path / "src"), "--target", "mcu")
    assert result.returncode == 0, result.stderr
    bundle = json.loads((tmp_path / "src" / "bundle.json").read_text())
    assert bundle["model"] == "digits_int8_b1.tflite"
    assert not {"SHAPE", "STRIDED_SLICE", "PACK"} & set(bundle["operators"])
    resolver = (tmp_path / "src" / "op_resolver.h").read_text()
    assert "AddShape" not in resolver and "AddPack" not in resolver
