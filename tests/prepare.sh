#!/usr/bin/env bash
# What the test suite needs besides .venv, fetched here (from the package registry) so that no
# test installs from the network while it runs:
#   .venv-tflite/  a second environment with only tflite-runtime, the NumPy 1 it needs, Pillow,
#                  pytest and digitlite (no dependencies) (tests/test_runtime.py runs the model in it; .ci/run runs the edge tests in it);
#   .wheels/       the wheels of the Pi bundle's requirements.txt for this machine, so that
#                  tests/test_export.py can run the bundle's install.sh offline (pip --no-index);
#   .npm/          the LiteRT.js tarballs of the web export and the handwriting fonts of the training and of
#                  the "not a digit" benchmark (from the npm registry, checked against their pinned
#                  integrity), which the tests pass as --runtime-dir and --fonts-dir.
# Run from anywhere, after .venv exists; again is quick (both are kept while complete).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
fail() { echo "prepare.sh: error: $*" >&2; exit 1; }
[ -x .venv/bin/python ] || fail ".venv is missing: python3 -m venv .venv && .venv/bin/pip install -e \".[train,camera,dev]\" first"

if ! .venv-tflite/bin/python -c "import tflite_runtime, PIL, pytest" >/dev/null 2>&1; then
    rm -rf .venv-tflite
    python3 -m venv .venv-tflite
    .venv-tflite/bin/pip install -q tflite-runtime "numpy<2" pillow pytest \
        || fail "pip could not install tflite-runtime into .venv-tflite (offline? it needs the package registry once)"
fi
# digitlite itself, from this checkout, without its dependencies (so no ai-edge-litert)
if [ "$(.venv-tflite/bin/python -c 'import digitlite.edge as e; print(e.__file__)' 2>/dev/null)" != "$PWD/edge/__init__.py" ]; then
    .venv-tflite/bin/pip install -q --no-deps -e . || fail "pip could not install digitlite into .venv-tflite"
fi

requirements=$(.venv/bin/python -c "from digitlite.edge.deploy.pi import requirements; print('\n'.join(requirements()['requirements.txt']))")
if [ "$(cat .wheels/requirements.txt 2>/dev/null)" != "$requirements" ] || [ ! -f .wheels/bookworm-constraints.txt ]; then
    rm -rf .wheels .wheels.part
    mkdir .wheels.part
    printf '%s\n' "$requirements" > .wheels.part/requirements.txt
    # as resolved today, and as install.sh resolves them on Bookworm (NumPy 1, OpenCV below 4.11)
    .venv/bin/python -c "from digitlite.edge.deploy.pi import BOOKWORM_CONSTRAINTS; print('\n'.join(BOOKWORM_CONSTRAINTS))" \
        > .wheels.part/bookworm-constraints.txt
    for constraints in /dev/null .wheels.part/bookworm-constraints.txt; do
        .venv/bin/pip download -q --only-binary=:all: -d .wheels.part -r .wheels.part/requirements.txt -c "$constraints" \
            || fail "pip could not download the bundle's requirements into .wheels (offline? it needs the package registry once)"
    done
    mv .wheels.part .wheels  # whole or not at all: an interrupted download is fetched again
fi
.venv/bin/python -c "from digitlite.edge.deploy.web import save_runtime; save_runtime('.npm')" \
    || fail "the LiteRT.js tarballs could not be fetched into .npm (offline? they need the npm registry once)"
# the handwriting fonts: the training's (train/synthetic.py) and the "not a digit" benchmark's
.venv/bin/python -c "
from digitlite.benchmarks.nondigits import FONTS as BENCH
from digitlite.edge.deploy import npm
from digitlite.train.synthetic import FONTS
npm.save(list(FONTS) + list(BENCH), '.npm', flag='--fonts-dir')" \
    || fail "the handwriting fonts could not be fetched into .npm (offline? they need the npm registry once)"
echo "prepare.sh: .venv-tflite, .wheels and .npm ready"
