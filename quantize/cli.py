"""``digitlite quantize``: convert a trained .keras model to int8 TFLite, with the accuracy gate.

Light on purpose (no TensorFlow import): the ``digitlite`` command loads it to list
the options; the conversion code is imported when the command runs.
"""

from __future__ import annotations

import json

from digitlite.edge.settings import RUNTIME_CHOICES, DefaultsFormatter
from digitlite.edge.util.errors import DigitliteError
from digitlite.quantize import VARIANTS
from digitlite.quantize.config import DEFAULTS, QuantizeConfig


def register(subparsers) -> None:
    """Add the ``quantize`` subcommand."""
    p = subparsers.add_parser(
        "quantize", help="convert a .keras model to a full-integer int8 TFLite model, checking the accuracy drop",
        description="Post-training full-integer quantization with a representative dataset drawn from the "
                    "training images. Every variant is evaluated on the 10,000 test images through the edge "
                    "runtime and gets a model card JSON beside it. Exits non-zero, keeping the previous model, "
                    "when the int8 model loses more than --max-drop points or is not full-integer.",
        formatter_class=DefaultsFormatter,
    )
    p.add_argument("model", help="the trained .keras model (e.g. models/digits.keras)")
    p.add_argument("--out", default=DEFAULTS.out, help="output folder (default: the model's folder)")
    p.add_argument("--variant", action="append", choices=VARIANTS + ("all",),
                   help=f"what to produce (repeatable; default {', '.join(DEFAULTS.variants)}; 'all' for the four)")
    p.add_argument("--calibration-samples", type=int, default=DEFAULTS.calibration_samples,
                   help="training images in the representative dataset, stratified over the ten digits")
    p.add_argument("--io-type", choices=("uint8", "int8"), default=DEFAULTS.io_type,
                   help="input/output type of the int8 model (uint8 takes raw pixels)")
    p.add_argument("--max-drop", type=float, default=DEFAULTS.max_drop,
                   help="largest accepted int8 accuracy loss against the float model, in percentage points")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed, help="seed of the calibration sample")
    p.add_argument("--runtime", default=DEFAULTS.runtime, choices=RUNTIME_CHOICES,
                   help="interpreter used to evaluate the converted models")
    p.add_argument("--data-dir", default=DEFAULTS.data_dir, help="folder holding the MNIST .gz files")
    p.add_argument("--json", action="store_true", help="print the model cards as JSON")
    p.set_defaults(handler=run)


def run(args) -> int:
    """Quantize as the command line says; print the table (or the cards)."""
    variants = tuple(VARIANTS if "all" in (args.variant or []) else dict.fromkeys(args.variant or DEFAULTS.variants))
    try:
        # lazy: TensorFlow, loaded only when the command runs (and optional)
        from digitlite.quantize.quantize import format_table, output_folder, quantize
    except ImportError as e:
        raise DigitliteError(f"quantization needs TensorFlow ({e}); install it with: pip install 'digitlite[train]'") from None
    config = QuantizeConfig(
        model=args.model, out=args.out, variants=variants, calibration_samples=args.calibration_samples,
        io_type=args.io_type, max_drop=args.max_drop, seed=args.seed, data_dir=args.data_dir, runtime=args.runtime,
    )
    cards = quantize(config)
    print(json.dumps([c.to_dict() for c in cards], indent=2) if args.json else format_table(cards, output_folder(config)))
    return 0
