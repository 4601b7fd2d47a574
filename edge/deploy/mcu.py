"""Sources for a microcontroller: ``digitlite export --target mcu OUT``, for TensorFlow Lite Micro.

The folder holds

* ``model_data.cc`` / ``model_data.h``: the ``.tflite`` bytes as an ``alignas(16) const unsigned
  char`` array with its length, and ``kTensorArenaSize``;
* ``op_resolver.h``: a ``MicroMutableOpResolver<N>`` registering exactly the model's operators;
* ``sample_digit.h`` and ``main.cc``: an example that fills the 28x28 input with an MNIST test
  digit, invokes the model and prints the argmax;
* ``README.txt`` and ``bundle.json`` (arena, model size, operators, sha256, accuracy) and ``SHA256SUMS``.

The tensor arena is measured, not guessed: the model runs in TensorFlow Lite Micro's own
interpreter (PyPI ``tflite-micro``, reference kernels) and the smallest arena that allocates
and invokes is found by bisection.  To it is added what an optimized build may ask for beyond
the reference kernels (see ``cmsis_nn_scratch``).
"""

from __future__ import annotations

import os
import platform
import re
from importlib import metadata
from pathlib import Path

import numpy as np

from digitlite.edge.deploy.bundle import check_out, export_folder, write_manifest
from digitlite.edge.runtime.card import ModelCard
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.shipped import default_mcu_model, sample_digit
from digitlite.edge.util.digest import sha256_file
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.util.quiet import captured, quiet

ARENA_ALIGN = 16  # TFLM aligns the arena's buffers to 16 bytes
ARRAY_NAME = "g_digits_model"


def import_tflm():
    """TensorFlow Lite Micro's Python interpreter module, or one line saying how to get it."""
    try:
        # optional: TensorFlow Lite Micro, the [mcu] extra
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        where = f" (it has wheels for x86_64 Linux only; this is {platform.system()} {platform.machine()}: " \
                "export on such a PC)" if platform.machine() != "x86_64" or platform.system() != "Linux" else ""
        raise DigitliteError("the microcontroller export runs the model in TensorFlow Lite Micro to measure its "
                             f"arena: pip install 'digitlite[mcu]'{where}") from None
    return runtime


def tflm_version() -> str | None:
    """The installed tflite-micro version (None when it is not installed)."""
    try:
        return metadata.version("tflite-micro")
    except metadata.PackageNotFoundError:
        return None


class MicroModel:
    """A model loaded in TensorFlow Lite Micro with a given arena: uint8 pixels in, probabilities out."""

    def __init__(self, data: bytes, arena_bytes: int):
        runtime = import_tflm()
        self.arena_bytes = arena_bytes
        try:
            with quiet(stdout=False):  # TFLM reports a failed allocation on the C-level stderr
                self._interp = runtime.Interpreter.from_bytes(data, arena_size=arena_bytes)
        except RuntimeError as e:
            raise DigitliteError(f"TensorFlow Lite Micro cannot run the model in {arena_bytes} bytes ({e})") from None
        inp, out = self._interp.get_input_details(0), self._interp.get_output_details(0)
        self._shape, self._dtype = tuple(int(d) for d in inp["shape"]), inp["dtype"]
        if self._shape[1:3] != (28, 28):
            raise DigitliteError(f"input shape {self._shape}, expected (1, 28, 28, 1): not a digit classifier")
        self._in_q = inp["quantization_parameters"]
        self._out_q = out["quantization_parameters"]

    def invoke(self, pixels: np.ndarray) -> np.ndarray:
        """The raw output tensor for one 28x28 image of 0-255 pixels."""
        x = np.asarray(pixels, np.float32).reshape(self._shape)
        if self._dtype != np.float32:
            scale, zero = float(self._in_q["scales"][0]), int(self._in_q["zero_points"][0])
            info = np.iinfo(self._dtype)
            x = np.clip(np.round(x / scale + zero), info.min, info.max)
        self._interp.set_input(x.astype(self._dtype), 0)
        with quiet(stdout=False):
            self._interp.invoke()
        return self._interp.get_output(0)

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        """Raw output scores as probabilities."""
        scale, zero = float(self._out_q["scales"][0]), int(self._out_q["zero_points"][0])
        out = np.asarray(raw, np.float32)
        return (out - zero) * scale if scale else out

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes) for images (N, 28, 28), one invoke each (as on the device)."""
        rows = [self.dequantize(self.invoke(image).reshape(-1)) for image in np.asarray(images)]
        return np.stack(rows) if rows else np.zeros((0, 10), np.float32)

    def allocations(self) -> dict:
        """What TFLM's recording allocator reports: total, head (activations) and tail (persistent) bytes."""
        report = captured(self._interp.print_allocations)  # TFLM prints it on the C-level stdout/stderr
        found = dict(re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", report))
        return {k: int(v) for k, v in found.items()}


def _runs_in(data: bytes, arena: int) -> bool:
    try:
        MicroModel(data, arena).invoke(np.zeros((28, 28), np.uint8))
        return True
    except DigitliteError:
        return False


def smallest_arena(data: bytes, limit: int = 4 * 1024 * 1024) -> int:
    """The smallest arena (a multiple of 16 bytes) in which TFLM allocates and invokes the model."""
    high = 64  # in units of ARENA_ALIGN: high runs, low does not (or is 0)
    while not _runs_in(data, high * ARENA_ALIGN):
        if high * ARENA_ALIGN >= limit:
            raise DigitliteError(f"the model does not run in TensorFlow Lite Micro even with a {limit:,}-byte arena")
        high *= 2
    low = 0
    while high - low > 1:
        mid = (low + high) // 2
        if _runs_in(data, mid * ARENA_ALIGN):
            high = mid
        else:
            low = mid
    return high * ARENA_ALIGN


def cmsis_nn_scratch(layers: list[dict]) -> int:
    """Bytes of scratch that Arm's CMSIS-NN kernels may request beyond the reference kernels.

    CMSIS-NN's int8 convolution asks for an im2col buffer of 2 x (kernel_h x kernel_w x
    in_channels) int16 values (``arm_convolve_s8_get_buffer_size``), its depthwise one for
    kernel_h x kernel_w x channels int16 values, and its fully connected layer keeps
    out_units int32 kernel sums.  Scratch buffers live only while their operator runs, so the
    largest one counts; the kernel sums persist, so they add up.
    """
    scratch, persistent = 0, 0
    for layer in layers:
        shape = layer["weights"]
        if layer["op"] == "CONV_2D" and len(shape) == 4:
            _, kh, kw, cin = shape
            if (kh, kw) != (1, 1):  # a 1x1 convolution runs without im2col
                scratch = max(scratch, 2 * kh * kw * cin * 2)
        elif layer["op"] == "DEPTHWISE_CONV_2D" and len(shape) == 4:
            _, kh, kw, channels = shape
            scratch = max(scratch, kh * kw * channels * 2)
        elif layer["op"] == "FULLY_CONNECTED" and len(shape) == 2:
            persistent += shape[0] * 4
    return _align(scratch) + _align(persistent)


def _align(n: int) -> int:
    return -(-n // ARENA_ALIGN) * ARENA_ALIGN


def resolver_method(op: str) -> str:
    """The MicroMutableOpResolver method for a TFLite builtin operator name: CONV_2D -> AddConv2D."""
    return "Add" + "".join(p.capitalize() if p.isalpha() else p for p in op.split("_"))


def c_array(data: bytes, per_line: int = 12) -> str:
    """The bytes as the body of a C array initializer, ``per_line`` a line."""
    lines = [", ".join(f"0x{b:02x}" for b in data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return ",\n    ".join(lines)


def array_bytes(source: str) -> bytes:
    """The bytes of the model array in a generated ``model_data.cc`` (what the device will hold)."""
    match = re.search(r"\b" + ARRAY_NAME + r"\[\]\s*=\s*\{(.*?)\};", source, re.S)
    if not match:
        raise DigitliteError(f"no {ARRAY_NAME}[] array in the source")
    return bytes(int(v, 16) for v in re.findall(r"0x([0-9a-fA-F]{2})", match.group(1)))


def stated_arena(header: str) -> int:
    """kTensorArenaSize in a generated ``model_data.h``."""
    match = re.search(r"kTensorArenaSize\s*=\s*(\d+)\s*;", header)
    if not match:
        raise DigitliteError("no kTensorArenaSize in the header")
    return int(match.group(1))


def load_sources(folder: str | os.PathLike) -> MicroModel:
    """The model as a device gets it from an exported folder: the bytes of ``model_data.cc``'s array,
    run by TensorFlow Lite Micro in the arena ``model_data.h`` states."""
    folder = Path(folder)
    try:
        source, header = (folder / "model_data.cc").read_text(), (folder / "model_data.h").read_text()
    except OSError as e:
        raise DigitliteError(f"{folder}: not an exported microcontroller folder ({e.strerror or e})") from None
    return MicroModel(array_bytes(source), stated_arena(header))


MODEL_H = """// The digit classifier for TensorFlow Lite Micro, written by `digitlite export --target mcu`.
// Model: {model} ({size} bytes, sha256 {sha256}).
#ifndef DIGITLITE_MODEL_DATA_H_
#define DIGITLITE_MODEL_DATA_H_

#include <cstddef>

// The .tflite flatbuffer, 16-byte aligned as TFLite Micro requires.
extern const unsigned char {array}[];
extern const unsigned int {array}_len;

// Tensor arena: {measured} bytes measured with TFLite Micro's reference kernels, plus {margin} bytes
// for the scratch and kernel sums that CMSIS-NN's optimized kernels may ask for (README.txt).
constexpr size_t kTensorArenaSize = {arena};

// Input: 28x28 {in_dtype} pixels, 0-255, white digit on black, centred like MNIST (row-major).
// Output: {classes} {out_dtype} scores, one per digit{not_digit_note}; probability = (score - {out_zero}) * {out_scale}.
constexpr int kImageSide = 28;
constexpr int kNumClasses = {classes};
constexpr int kNotADigit = 10;  // the eleventh score, when kNumClasses is 11

#endif  // DIGITLITE_MODEL_DATA_H_
"""

MODEL_CC = """// Written by `digitlite export --target mcu`: {model}, {size} bytes, sha256 {sha256}.
#include "model_data.h"

alignas(16) const unsigned char {array}[] = {{
    {body}
}};
const unsigned int {array}_len = {size};
"""

RESOLVER_H = """// The operators of {model}, and only those (written by `digitlite export --target mcu`).
#ifndef DIGITLITE_OP_RESOLVER_H_
#define DIGITLITE_OP_RESOLVER_H_

#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

using DigitOpResolver = tflite::MicroMutableOpResolver<{count}>;

inline TfLiteStatus RegisterDigitOps(DigitOpResolver& resolver) {{
{adds}
  return kTfLiteOk;
}}

#endif  // DIGITLITE_OP_RESOLVER_H_
"""

SAMPLE_H = """// MNIST test image {index} (a {label}), as the model takes it: 28x28, 0-255, white on black.
#ifndef DIGITLITE_SAMPLE_DIGIT_H_
#define DIGITLITE_SAMPLE_DIGIT_H_

constexpr int kSampleLabel = {label};
constexpr unsigned char kSampleDigit[28 * 28] = {{
    {body}
}};

#endif  // DIGITLITE_SAMPLE_DIGIT_H_
"""

MAIN_CC = """// Read one handwritten digit with TensorFlow Lite Micro: fill the input, invoke, take the argmax.
// Written by `digitlite export --target mcu`; see README.txt for building it into a board's project.
#include <cstdint>
#include <cstdio>

#include "model_data.h"
#include "op_resolver.h"
#include "sample_digit.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {{
alignas(16) uint8_t tensor_arena[kTensorArenaSize];
}}  // namespace

// Classify one 28x28 image (0-255, white digit on black); returns the digit, kNotADigit (10) when the
// model says it is not a digit (a letter, a symbol, a scribble), or -1 on error.
int ClassifyDigit(tflite::MicroInterpreter& interpreter, const unsigned char* pixels) {{
  TfLiteTensor* input = interpreter.input(0);
  for (int i = 0; i < kImageSide * kImageSide; ++i) {{
{fill}
  }}
  if (interpreter.Invoke() != kTfLiteOk) return -1;
  TfLiteTensor* output = interpreter.output(0);
  int best = 0;
  for (int d = 1; d < kNumClasses; ++d) {{
    if (output->data.{out_field}[d] > output->data.{out_field}[best]) best = d;
  }}
  return best;
}}

int main() {{
  const tflite::Model* model = tflite::GetModel({array});
  if (model->version() != TFLITE_SCHEMA_VERSION) {{
    std::printf("model schema %d, expected %d\\n", static_cast<int>(model->version()), TFLITE_SCHEMA_VERSION);
    return 1;
  }}
  static DigitOpResolver resolver;
  if (RegisterDigitOps(resolver) != kTfLiteOk) return 1;
  static tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, kTensorArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) {{
    std::printf("AllocateTensors failed: the arena is too small\\n");
    return 1;
  }}
  std::printf("arena used: %u of %u bytes\\n", static_cast<unsigned>(interpreter.arena_used_bytes()),
              static_cast<unsigned>(kTensorArenaSize));
  const int digit = ClassifyDigit(interpreter, kSampleDigit);
  if (digit == kNotADigit) {{
    std::printf("read: not a digit (the sample is a %d)\\n", kSampleLabel);
  }} else {{
    std::printf("read %d (the sample is a %d)\\n", digit, kSampleLabel);
  }}
  return digit == kSampleLabel ? 0 : 1;
}}
"""

README = """digitlite for a microcontroller (TensorFlow Lite Micro): {model}{accuracy}

Flash: {size:,} bytes of model (model_data.cc). RAM: a {arena:,}-byte tensor arena (kTensorArenaSize)
plus the 784-byte image you fill it from.

Files
  model_data.cc/.h   the model as an alignas(16) const unsigned char array, its length, kTensorArenaSize
  op_resolver.h      MicroMutableOpResolver<{count}> with exactly the model's operators: {ops}
  main.cc            an example: fill the 28x28 input, invoke, argmax (ClassifyDigit), on sample_digit.h
  sample_digit.h     MNIST test image {index} (a {label})
  bundle.json        what was exported: arena, model bytes, operators, sha256, accuracy; SHA256SUMS

One view: ClassifyDigit reads the input as it is. digitlite's other readers (classify, the camera,
the server, the static page) read a digit in seven views, the input moved one pixel each way and
turned 6 degrees each way, and pool the answers, which refuses more letters and scribbles (92.4% ->
95.0% on digitlite's non-digit set) for seven model calls a digit; on a board that is seven times the
time and the input buffers. To read the same way, invoke on each view and average the log-probabilities:
edge/runtime/views.py gives the views in integers.

Building: add these files to a project that has TensorFlow Lite Micro (the tflite-micro repository's
Makefile or CMake, Arduino's Chirale_TensorFlowLite / Harvard_TinyMLx libraries, ESP-IDF's esp-tflite-micro,
the Pico SDK's pico-tflmicro) and compile main.cc, or call ClassifyDigit from your own code. The input
is MNIST-like: 28x28, white digit on black, 0-255, centred by its centre of mass in a 20x20 box;
preparing a camera image that way is up to the board (digitlite's edge runtime does it on a Pi).

The arena: {measured:,} bytes is the smallest in which TensorFlow Lite Micro ({tflm}) allocated and
ran this model with its reference kernels (found by bisection, on x86_64, whose 64-bit pointers make
TFLite Micro's own structures larger than on a 32-bit Cortex-M). {margin:,} bytes are added for
Arm's CMSIS-NN kernels: the largest im2col scratch buffer of its int8 convolutions (2 x kernel_h x
kernel_w x input channels int16 values) and the kernel sums its fully connected layers keep. If
AllocateTensors still fails on your board (another optimized kernel library), raise kTensorArenaSize;
main.cc prints the arena actually used, which is what to set it to.

What is proven here: the bytes of model_data.cc, run by TensorFlow Lite Micro's interpreter with
kTensorArenaSize, give the same predictions as LiteRT on the MNIST test images (python -m
digitlite.benchmarks.mcu). What is not: compiling for and running on a real board; the speed of one.
"""


def model_layers(data: bytes) -> list[dict]:
    """Each operator of the model's main graph, as stored in the flatbuffer (not as an interpreter's
    delegate regrouped them): its builtin name and the shape of its weights (its second input)."""
    runtime = import_tflm()
    # optional: the [mcu] extra
    from tflite_micro.tensorflow.lite.micro.python.schema_py_generated import (
        BuiltinOperator,
    )

    names = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
    model = runtime.convert_bytearray_to_object(bytearray(data))
    codes = [runtime.get_builtin_code_from_operator_code(c) for c in model.operatorCodes]
    graph = model.subgraphs[0]
    layers = []
    for op in graph.operators:
        inputs = [int(i) for i in (op.inputs if op.inputs is not None else [])]
        weights = graph.tensors[inputs[1]].shape if len(inputs) > 1 and inputs[1] >= 0 else None
        layers.append({"op": names.get(codes[op.opcodeIndex], f"BUILTIN_{codes[op.opcodeIndex]}"),
                       "weights": [int(d) for d in weights] if weights is not None else []})
    return layers


def _fill_line(dtype: str, in_zero: int, in_scale: float) -> str:
    if dtype == "uint8" and in_scale == 1.0 and in_zero == 0:
        return "    input->data.uint8[i] = pixels[i];"
    if dtype == "int8" and in_scale == 1.0:
        return f"    input->data.int8[i] = static_cast<int8_t>(static_cast<int>(pixels[i]) + ({in_zero}));"
    raise DigitliteError(f"the model's input is {dtype} with scale {in_scale} and zero point {in_zero}: the "
                         "microcontroller export takes a full-integer model fed raw pixels (digitlite quantize's)")


def export_mcu(out: str | os.PathLike, model: str | os.PathLike | None = None, force: bool = False) -> dict:
    """Write the TensorFlow Lite Micro sources for ``model`` into the folder ``out``; return the manifest.

    Built in a temp folder beside ``out`` and renamed into place, like the Pi bundle.
    """

    out = Path(out)
    check_out(out, force)
    model = Path(model) if model else default_mcu_model()
    lite = Model(model, runtime="auto")  # a valid digit classifier, or one line saying why not
    card = ModelCard.of(model)
    import_tflm()  # before any work: the one line for a machine without it
    data = model.read_bytes()
    desc = lite.describe()
    inp, outp = desc["input"], desc["output"]
    if inp["dtype"] not in ("uint8", "int8") or outp["dtype"] not in ("uint8", "int8") or lite.float_operators():
        raise DigitliteError(f"{model}: not a full-integer model ({inp['dtype']} in, {outp['dtype']} out): "
                             "export the int8 model that digitlite quantize writes")
    fill = _fill_line(inp["dtype"], inp["zero_point"], inp["scale"])
    measured = smallest_arena(data)
    layers = model_layers(data)
    margin = cmsis_nn_scratch(layers)
    arena = measured + margin
    ops = sorted({layer["op"] for layer in layers})
    sample_index = 0  # the example's digit: MNIST test image 0, shipped with the package (no MNIST files needed)
    sample, label = sample_digit()
    micro = MicroModel(data, arena)
    if int(micro.predict_proba(sample[None]).argmax()) != int(lite.predict_proba(sample[None]).argmax()):
        raise DigitliteError(f"{model}: TensorFlow Lite Micro and LiteRT disagree on the sample digit")
    sha = sha256_file(model)
    values = dict(model=model.name, size=len(data), sha256=sha, array=ARRAY_NAME, arena=arena, measured=measured,
                  margin=margin, in_dtype=inp["dtype"], out_dtype=outp["dtype"], out_zero=outp["zero_point"],
                  out_scale=outp["scale"], classes=lite.classes,
                  not_digit_note=' and the eleventh "not a digit" (kNotADigit)' if lite.classes == 11 else "")
    files = {
        "model_data.h": MODEL_H.format(**values),
        "model_data.cc": MODEL_CC.format(**values, body=c_array(data)),
        "op_resolver.h": RESOLVER_H.format(model=model.name, count=len(ops),
                                           adds="\n".join(f"  TF_LITE_ENSURE_STATUS(resolver.{resolver_method(o)}());"
                                                          for o in ops)),
        "sample_digit.h": SAMPLE_H.format(index=sample_index, label=label, body=c_array(sample.tobytes(), 28)),
        "main.cc": MAIN_CC.format(array=ARRAY_NAME, fill=fill, out_field=outp["dtype"]),
        "README.txt": README.format(model=model.name, size=len(data), arena=arena, measured=measured, margin=margin,
                                    count=len(ops), ops=", ".join(ops), index=sample_index, label=label,
                                    tflm=tflm_version(), accuracy=f" ({card.tflite_accuracy * 100:.2f}% on the "
                                    "MNIST test set)"),
    }
    with export_folder(out, force, "sources") as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
        manifest = {
            "target": "mcu", "model": model.name, "model_bytes": len(data), "sha256": sha,
            "arena_bytes": arena, "arena_measured_bytes": measured, "arena_margin_bytes": margin,
            "arena_allocations": micro.allocations(), "ram_bytes": arena + 28 * 28,
            "operators": ops, "input": inp, "output": outp, "accuracy": card.tflite_accuracy,
            "tflite_micro": tflm_version(), "files": {f: sha256_file(tmp / f) for f in sorted(files)},
        }
        write_manifest(tmp, manifest)
    return manifest
