"""Rows as comparable JSON, shared by the DataJoint 0.14 and 2.3 readers (no DataJoint import here)."""

from __future__ import annotations

import datetime
import decimal
import uuid

import numpy as np


def plain(value, special=None):
    """``value`` as JSON-able data; ``special(value)`` may claim a value first (return non-None)."""
    if value is None:
        return None
    claimed = special(value) if special else None
    if claimed is not None:
        return claimed
    if isinstance(value, np.ndarray):
        return {"dtype": str(value.dtype), "shape": list(value.shape), "data": value.ravel().tolist()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (uuid.UUID, decimal.Decimal, datetime.date, datetime.datetime)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v, special) for v in value]
    if isinstance(value, dict):
        return {k: plain(v, special) for k, v in value.items()}
    return value
