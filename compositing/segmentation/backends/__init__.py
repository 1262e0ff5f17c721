"""Segmentation backends, one module each (registered by path in ``..registry``)."""
