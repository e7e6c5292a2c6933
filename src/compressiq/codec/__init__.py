"""Compression for real: model-driven range coding (``coding``) in a checked container (``container``)."""
