"""Stage 2: int8 TFLite conversion with an accuracy-drop gate."""

VARIANTS = ("int8", "float32", "float16", "dynamic")
