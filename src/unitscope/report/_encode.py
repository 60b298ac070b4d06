"""Arrays inside the page: typed, base64-coded, deflated when it pays; JSON safe in <script>.

An array becomes ``{"$a": "u8" | "i32" | "f32", "shape": [...], "b64": ..., "z": 0 | 1,
"delta": 0 | 1}``. ``z`` marks zlib (the browser's ``DecompressionStream("deflate")``
inflates it); ``delta`` marks uint8 images stored as differences along their last axis
(mod 256), which turns smooth ramps into runs that deflate well.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import numpy as np

from .._errors import UnitscopeError
from .._json import to_jsonable

_MIN_COMPRESS = 512  # bytes; smaller arrays are stored plain


def delta_encode(q: np.ndarray) -> np.ndarray:
    """Differences along the last axis, mod 256 (the first element kept).

    Example:
        >>> delta_encode(np.array([[10, 12, 11]], dtype=np.uint8)).tolist()
        [[10, 2, 255]]
    """
    out = q.copy()
    out[..., 1:] = q[..., 1:] - q[..., :-1]  # uint8 arithmetic wraps mod 256
    return out


def _typed(arr: np.ndarray) -> tuple[str, np.ndarray]:
    if arr.dtype == np.uint8 or arr.dtype == np.bool_:
        return "u8", arr.astype(np.uint8)
    if arr.dtype.kind in "iu":
        if arr.size and (arr.min() < -(2**31) or arr.max() >= 2**31):
            raise UnitscopeError("integer arrays in a report must fit in 32 bits.")
        return "i32", arr.astype("<i4")
    if arr.dtype.kind == "f":
        return "f32", arr.astype("<f4")
    raise UnitscopeError(f"cannot put an array of dtype {arr.dtype} in a report.")


def encode_array(arr: np.ndarray) -> dict[str, Any]:
    """One array as a JSON object the page's decoder understands."""
    code, typed = _typed(np.ascontiguousarray(arr))
    delta = int(code == "u8" and typed.ndim >= 2 and typed.shape[-1] > 1)
    raw = (delta_encode(typed) if delta else typed).tobytes()
    packed, z = raw, 0
    if len(raw) >= _MIN_COMPRESS:
        squeezed = zlib.compress(raw, 3)  # level 3: most of the gain, twice as fast as 6
        if len(squeezed) < 0.9 * len(raw):
            packed, z = squeezed, 1
    return {
        "$a": code,
        "shape": list(typed.shape),
        "z": z,
        "delta": delta,
        "b64": base64.b64encode(packed).decode("ascii"),
    }


def encode(obj: Any) -> Any:
    """``obj`` with every array encoded and non-finite floats turned into ``None``."""
    return to_jsonable(obj, array=encode_array, refuse="a report")


def script_json(obj: Any) -> str:
    """JSON text that is safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as ``\\u003c`` etc., so no string in the data can end
    the script element (``</script>``) or open a comment; ``://`` is written ``:\\/\\/`` so
    the file holds no address.

    Example:
        >>> script_json({"name": "</script>"})
        '{"name":"\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.replace("://", ":\\/\\/")  # no address in the file, same string once parsed
