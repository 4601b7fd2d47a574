"""digitlite.edge.runtime: the TFLite interpreter, the model card, the shipped models, a model's answer."""


def __getattr__(name: str):
    # This package was the module runtime.py before the subpackages: its names still resolve, with a warning.
    import importlib

    interpreter = importlib.import_module("digitlite.edge.runtime.interpreter")  # lazy: only for an old name

    if name.startswith("__") or not hasattr(interpreter, name):
        raise AttributeError(f"module 'digitlite.edge.runtime' has no attribute {name!r}")
    from digitlite.edge.util.moved import warn_moved  # lazy: as above

    warn_moved(f"digitlite.edge.runtime.{name}", f"digitlite.edge.runtime.interpreter.{name}")
    return getattr(interpreter, name)
