"""Run a digit-classifier ``.tflite`` model with whichever TFLite interpreter is installed.

Order for ``runtime="auto"``: ai-edge-litert, then tflite-runtime, then TensorFlow's
own ``tf.lite``.  Nothing here imports TensorFlow unless it is the only interpreter
(or is asked for by name).  Models may take uint8, int8 or float32 input: raw 0-255
pixels go in (the model rescales them itself) and probabilities come out.
"""

from __future__ import annotations

import importlib
import os
import struct
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from digitlite.edge.runtime.shipped import shipped_names
from digitlite.edge.settings import RUNTIMES
from digitlite.edge.util.errors import DigitliteError, first_line
from digitlite.edge.util.quiet import import_tensorflow, quiet

_MODULES = {
    "litert": "ai_edge_litert.interpreter",
    "tflite": "tflite_runtime.interpreter",
}
_PACKAGES = {"litert": "ai-edge-litert", "tflite": "tflite-runtime", "tensorflow": "tensorflow"}
MAX_BATCH = 256
CLASSES = (10, 11)  # the digits, and optionally "not a digit" (edge/runtime/reading.py)


def interpreter_class(runtime: str = "auto"):
    """Return (name, Interpreter class) for ``runtime``: auto, litert, tflite or tensorflow."""
    names = RUNTIMES if runtime == "auto" else (runtime,)
    if runtime != "auto" and runtime not in RUNTIMES:
        raise DigitliteError(f"unknown runtime {runtime!r}; choose auto, {', '.join(RUNTIMES)}")
    for name in names:
        try:
            if name == "tensorflow":
                return name, import_tensorflow().lite.Interpreter
            module = importlib.import_module(_MODULES[name])
        except ImportError:
            continue
        if name == "tflite":
            _check_tflite_runtime_numpy()
        return name, module.Interpreter
    if runtime != "auto":
        raise DigitliteError(f"the {runtime} interpreter is not installed here: pip install {_PACKAGES[runtime]}"
                             + (" (or pip install 'digitlite[train]')" if runtime == "tensorflow" else ""))
    wanted = " or ".join(_PACKAGES[n] for n in names)
    raise DigitliteError(f"no TFLite interpreter found; install {wanted} (pip install ai-edge-litert)")


def interpreter_version(name: str) -> str | None:
    """The installed version of the package behind runtime ``name`` (None if unknown)."""
    try:
        return metadata.version(_PACKAGES[name])
    except (KeyError, metadata.PackageNotFoundError):
        return None


def _check_tflite_runtime_numpy() -> None:
    # tflite-runtime's last release (2.14) was built against NumPy 1 but does not say so in
    # its metadata; under NumPy 2 it fails with an opaque SystemError on the first model.

    try:
        version = metadata.version("tflite-runtime")
    except metadata.PackageNotFoundError:
        return
    major_minor = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if major_minor <= (2, 14) and int(np.__version__.split(".")[0]) >= 2:
        raise DigitliteError(f"tflite-runtime {version} needs NumPy 1, found NumPy {np.__version__}: "
                             "pip install 'numpy<2' (or use ai-edge-litert)")


def check_tflite_bytes(data: bytes) -> str | None:
    """Why ``data`` cannot be a complete TFLite model, or None if its structure holds.

    Some interpreters (tflite-runtime 2.14) map the file and crash with a bus error on a
    truncated model instead of raising, so the layout is checked first: the "TFL3"
    identifier, the root table and its vtable, the operator-code, subgraph and buffer
    vectors, and every buffer's data, all inside the file.
    """

    size = len(data)

    def u32(pos):
        if pos < 0 or pos + 4 > size:
            raise IndexError(pos)
        return struct.unpack_from("<I", data, pos)[0]

    def table_fields(pos):
        vtable = pos - struct.unpack_from("<i", data, pos)[0] if 0 <= pos <= size - 4 else -1
        if vtable < 0 or vtable + 4 > size:
            raise IndexError(vtable)
        vsize = struct.unpack_from("<H", data, vtable)[0]
        if vsize < 4 or vtable + vsize > size:
            raise IndexError(vtable)
        return [struct.unpack_from("<H", data, vtable + 4 + 2 * i)[0] for i in range((vsize - 4) // 2)]

    def vector(pos, field, fields, item=4):
        if field >= len(fields) or not fields[field]:
            return None, 0
        start = pos + fields[field] + u32(pos + fields[field])
        length = u32(start)
        if start + 4 + length * item > size:
            raise IndexError(start)
        return start + 4, length

    if size < 8 or data[4:8] != b"TFL3":
        return "no TFLite identifier (TFL3)"
    try:
        root = u32(0)
        fields = table_fields(root)
        for field in (1, 2):  # operator codes, subgraphs: vectors of tables
            start, length = vector(root, field, fields)
            for i in range(length):
                table_fields(start + 4 * i + u32(start + 4 * i))
        start, length = vector(root, 4, fields)  # buffers
        for i in range(length):
            buf = start + 4 * i + u32(start + 4 * i)
            bfields = table_fields(buf)
            vector(buf, 0, bfields, item=1)
            if len(bfields) > 2 and bfields[1] and bfields[2]:  # data stored after the flatbuffer
                offset, length_ = struct.unpack_from("<QQ", data, buf + bfields[1])[0], \
                    struct.unpack_from("<Q", data, buf + bfields[2])[0]
                if offset + length_ > size:
                    raise IndexError(offset)
    except (IndexError, struct.error):
        return "truncated or corrupt"
    return None


class Model:
    """A loaded ``.tflite`` digit classifier: (N, 28, 28) uint8 pixels in, (N, 10) probabilities out, or
    (N, 11) for a model whose eleventh class is "not a digit"."""

    def __init__(self, model_path: str | os.PathLike | None = None, runtime: str = "auto",
                 threads: int | None = None, model_content: bytes | None = None):
        """Load ``model_path`` (or the model bytes ``model_content``) and check its interface."""
        if (model_path is None) == (model_content is None):
            raise ValueError("give exactly one of model_path and model_content")
        self.path = Path(model_path) if model_path is not None else Path("<in memory>")
        if model_path is not None and not self.path.is_file():
            raise DigitliteError(f"{self.path}: no such model file (shipped models, by name: {shipped_names()}; "
                                 "digitlite models lists them)")
        self.runtime, interpreter = interpreter_class(runtime)
        try:
            raw = model_content if model_content is not None else self.path.read_bytes()
        except OSError as e:
            raise DigitliteError(f"{self.path}: cannot read ({e.strerror or e})") from None
        problem = check_tflite_bytes(raw)
        if problem:
            raise DigitliteError(f"{self.path}: not a valid TFLite model ({problem})")
        try:
            source = {"model_path": str(self.path)} if model_content is None else {"model_content": model_content}
            with quiet(stdout=False):  # "INFO: Created TensorFlow Lite XNNPACK delegate" and friends
                self._interp = interpreter(**source, num_threads=threads)
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise DigitliteError(f"{self.path}: not a valid TFLite model ({first_line(e)})") from None
        inputs, outputs = self._interp.get_input_details(), self._interp.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise DigitliteError(f"{self.path}: expected one input and one output, found "
                                 f"{len(inputs)} and {len(outputs)}: not a digit classifier")
        self.input, self.output = inputs[0], outputs[0]
        shape = tuple(int(d) for d in self.input["shape"])
        if shape[1:] not in ((28, 28, 1), (28, 28)):
            raise DigitliteError(f"{self.path}: input shape {shape}, expected (1, 28, 28, 1): not a digit classifier")
        self.classes = int(self.output["shape"][-1]) if len(self.output["shape"]) else 0
        if self.classes not in CLASSES:
            raise DigitliteError(f"{self.path}: output shape {tuple(self.output['shape'])}, expected 10 classes "
                                 "(the digits) or 11 (and 'not a digit')")
        if self.input["dtype"] not in (np.uint8, np.int8, np.float32):
            raise DigitliteError(f"{self.path}: input type {np.dtype(self.input['dtype']).name} is not supported")
        self._sample_shape = shape[1:]
        self._batch = int(shape[0])
        signature = self.input.get("shape_signature")
        # A model converted with a fixed batch (LiteRT.js needs one) cannot be resized: it is fed
        # that many images per call.
        self.fixed_batch = int(signature[0]) if signature is not None and len(signature) and signature[0] > 0 else None

    @property
    def input_dtype(self) -> np.dtype:
        """The dtype the model takes (uint8, int8 or float32)."""
        return np.dtype(self.input["dtype"])

    def to_input(self, pixels: np.ndarray) -> np.ndarray:
        """0-255 pixels (N, 28, 28) as the model's input tensor (dtype, quantization, shape)."""
        scale, zero = self.input["quantization"]
        x = pixels.astype(np.float32)
        if self.input_dtype != np.float32:
            if scale:
                x = np.round(x / scale + zero)
            info = np.iinfo(self.input_dtype)
            x = np.clip(x, info.min, info.max)
        return x.astype(self.input_dtype).reshape((len(pixels),) + self._sample_shape)

    def _from_output(self, raw: np.ndarray) -> np.ndarray:
        scale, zero = self.output["quantization"]
        out = raw.astype(np.float32)
        if raw.dtype != np.float32 and scale:
            out = (out - zero) * scale
        return out

    def _resize(self, n: int) -> None:
        if n != self._batch:
            if self.fixed_batch:
                raise ValueError(f"{self.path.name} takes batches of exactly {self.fixed_batch}, got {n}")
            self._interp.resize_tensor_input(self.input["index"], (n,) + self._sample_shape)
            self._interp.allocate_tensors()
            self._batch = n

    def invoke(self, batch: np.ndarray) -> np.ndarray:
        """Run the interpreter on an already-converted input batch; return the raw output."""
        self._resize(len(batch))
        self._interp.set_tensor(self.input["index"], batch)
        self._interp.invoke()
        return self._interp.get_tensor(self.output["index"])

    def time_calls(self, batch: np.ndarray, runs: int, min_seconds: float = 0.0, warmup: int = 50) -> list[float]:
        """Seconds per interpreter call on an already-converted ``batch`` (see ``to_input``).

        ``warmup`` calls first, untimed; then at least ``runs`` calls and ``min_seconds``.
        Only the interpreter's own call is timed: the input is set once, the output not read.
        """
        for _ in range(warmup):
            self.invoke(batch)
        self._interp.set_tensor(self.input["index"], batch)
        timings = []
        started = time.perf_counter()
        while len(timings) < runs or time.perf_counter() - started < min_seconds:
            t0 = time.perf_counter()
            self._interp.invoke()
            timings.append(time.perf_counter() - t0)
        return timings

    def predict_proba(self, images: np.ndarray, batch_size: int = MAX_BATCH) -> np.ndarray:
        """Class probabilities (N, classes) for 0-255 pixel images of shape (N, 28, 28)."""
        images = np.asarray(images)
        if images.ndim == 2:
            images = images[None]
        if images.shape[1:3] != (28, 28):
            raise ValueError(f"images must be (N, 28, 28), got {images.shape}")
        batch_size = self.fixed_batch or batch_size
        chunks = [self._from_output(self.invoke(self.to_input(images[i:i + batch_size])))
                  for i in range(0, len(images), batch_size)]
        return np.concatenate(chunks).reshape(len(images), -1) if chunks else np.zeros((0, self.classes), np.float32)

    def describe(self) -> dict:
        """The model's interface and operators, for model cards and checks."""
        def io(detail):
            scale, zero = detail["quantization"]
            return {"shape": [int(d) for d in detail["shape"]], "dtype": np.dtype(detail["dtype"]).name,
                    "scale": float(scale), "zero_point": int(zero)}

        return {"input": io(self.input), "output": io(self.output), "operators": self.operators(),
                "runtime": self.runtime}

    def operators(self) -> list[dict]:
        """Each operator with the dtypes of its input and output tensors.

        Uses the interpreter's op listing (``_get_ops_details``, present in ai-edge-litert,
        tflite-runtime and tf.lite alike); an empty list where an interpreter lacks it.
        """
        get_ops = getattr(self._interp, "_get_ops_details", None)
        if get_ops is None:
            return []
        dtypes = {t["index"]: np.dtype(t["dtype"]).name for t in self._interp.get_tensor_details()}
        ops = []
        for op in get_ops():
            tensors = [int(i) for i in list(op["inputs"]) + list(op["outputs"]) if int(i) >= 0]
            ops.append({"op": op["op_name"], "dtypes": sorted({dtypes.get(i, "?") for i in tensors})})
        return ops

    def float_operators(self) -> list[str]:
        """Names of the operators that touch a float tensor: empty for a full-integer model."""
        floats = {"float32", "float16", "float64"}
        ops = self.operators()
        if not ops:  # no op listing: fall back to the tensors themselves
            return sorted({t["name"] for t in self._interp.get_tensor_details()
                           if np.dtype(t["dtype"]).name in floats})
        return [op["op"] for op in ops if floats & set(op["dtypes"])]
