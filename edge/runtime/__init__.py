"""digitlite.edge.runtime: the TFLite interpreter, the model card, the shipped models, a model's answer."""
