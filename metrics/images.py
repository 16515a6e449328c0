"""Decoding image files (PNG maps and masks, TIFF maps) with Pillow, as one-line errors.

Pillow reads only the header on open and refuses images over its decompression-bomb
limit there (twice `PIL.Image.MAX_IMAGE_PIXELS`), before the pixel data is allocated;
that refusal, and every other failure to decode a file, becomes a ScoreInputError
naming the file. The same limit bounds `.npz` members (`metrics.npyfiles`).
See docs/metrics.md, "Inputs and bad input".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from metrics.errors import ScoreInputError

_PALETTE_MODES = ("P", "PA")
# Modes whose black is not all zeros, or whose values are not colours: read as RGB.
_NOT_RGB_MODES = (*_PALETTE_MODES, "CMYK", "YCbCr", "LAB", "HSV")


def pixel_limit() -> int | None:
    """The largest pixel count read: Pillow's decompression-bomb limit (None if a caller
    switched it off by setting `PIL.Image.MAX_IMAGE_PIXELS = None`)."""
    limit = Image.MAX_IMAGE_PIXELS
    return None if limit is None else 2 * int(limit)


def _reason(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return text or type(error).__name__


def decode_image(path: Path, what: str, as_colours: bool) -> np.ndarray:
    """The pixels of an image file as Pillow decodes them (2-D, or (H, W, C)).

    as_colours (masks): palette images, and colour spaces other than RGB, are returned as
    RGB colours (H, W, 3), so black is always 0; else (maps) a palette image is an error
    (its values would be palette indices). `what` ("map", "mask") names the file in errors.
    """
    try:
        with Image.open(path) as image:
            if as_colours and image.mode in _NOT_RGB_MODES:
                return np.asarray(image.convert("RGBA"))[..., :3]
            if image.mode in _PALETTE_MODES:
                raise ScoreInputError(f"{path}: a palette ({image.mode}) image holds palette "
                                      f"indices, not values: save the {what} as grayscale")
            image.load()
            return np.asarray(image)
    except ScoreInputError:
        raise
    except Image.DecompressionBombError as error:
        raise ScoreInputError(f"{path}: {what} too large to read ({_reason(error)})") from None
    # Pillow's decoders report malformed files with many exception types (OSError,
    # SyntaxError, struct.error, IndexError, ...); the try holds nothing but the decoding
    # of the user's file, so each of them means "this file cannot be read".
    except Exception as error:
        raise ScoreInputError(f"{path}: cannot read {what} ({_reason(error)})") from None
