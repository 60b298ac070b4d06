"""A folder of images, one subfolder per class, read with Pillow."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import UnitscopeError
from ._checks import check_bool, check_size
from ._dataset import Dataset
from ._user import existing_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _class_files(root: Path) -> list[tuple[str, list[Path]]]:
    """``(class name, sorted image files)`` for every visible subfolder, sorted by name."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise UnitscopeError(
            f"folder {str(root)!r} has no subfolders; expected one subfolder of PNG/JPG images "
            "per class."
        )
    out = []
    for folder in folders:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UnitscopeError(
                f"class folder {str(folder)!r} has no .png/.jpg/.jpeg images; add some or "
                "remove the folder."
            )
        out.append((folder.name, files))
    return out


def _read_image(file: Path, size: tuple[int, int] | None, grayscale: bool) -> np.ndarray:
    """One image as float64 in [0, 1], shape (channels, height, width), resized to ``size``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # the size is checked below, with a clearer message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(file)  # reads the header only
        with opened:
            _check_pixels(file, opened.size, Image.MAX_IMAGE_PIXELS)
            image = opened.convert("L" if grayscale else "RGB")
        if size is not None and image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.float64) / 255.0
    except Image.DecompressionBombError:  # over twice the limit: Pillow refuses to open it
        limit = Image.MAX_IMAGE_PIXELS or 0
        raise UnitscopeError(
            f"image {str(file)!r} has over {2 * limit:,} pixels, more than the {limit:,} that "
            "can be decoded safely (a decompression bomb?); shrink it or remove it from the "
            "folder."
        ) from None
    except (UnidentifiedImageError, OSError) as err:
        raise UnitscopeError(f"cannot read image {str(file)!r}: {err}.") from None
    return pixels[None] if grayscale else np.ascontiguousarray(pixels.transpose(2, 0, 1))


def _check_pixels(file: Path, size: tuple[int, int], limit: int | None) -> None:
    """Refuse an image larger than Pillow's limit for safe decoding (a decompression bomb:
    a small file that expands to gigabytes), before it is decoded."""
    width, height = size
    if limit is not None and width * height > limit:
        raise UnitscopeError(
            f"image {str(file)!r} is {width}x{height} = {width * height:,} pixels, more than "
            f"the {limit:,} that can be decoded safely (a decompression bomb?); shrink it or "
            "remove it from the folder."
        )


def load_image_folder(
    path: str | os.PathLike[str],
    *,
    size: Any = None,
    grayscale: bool = False,
    flatten: bool = False,
) -> Dataset:
    """Load ``path/<class>/<image>.png|jpg`` as a classification set.

    Classes are numbered in the sorted order of the subfolder names (listed in the origin
    line); images are read in sorted file order. Every image is resized with bilinear
    interpolation to ``size`` (default: the size of the first image).

    Args:
        path: the folder that holds one subfolder per class.
        size: ``s`` or ``(height, width)``; None keeps the first image's size.
        grayscale: one channel (True) or RGB (False).
        flatten: return (n_samples, C * H * W) instead of (n_samples, C, H, W).

    Returns:
        x float64 in [0, 1]; y int64 class indices.
    """
    root = existing_path(path, folder=True)
    target = None if size is None else check_size("size", size)
    grayscale = check_bool("grayscale", grayscale)
    flatten = check_bool("flatten", flatten)
    classes = _class_files(root)
    images, labels = [], []
    for label, (_, files) in enumerate(classes):
        for file in files:
            image = _read_image(file, target, grayscale)
            target = target or (image.shape[1], image.shape[2])
            images.append(image)
            labels.append(label)
    x = np.stack(images)  # (n_samples, C, H, W)
    x = x.reshape(len(x), -1) if flatten else x
    names = ", ".join(f"{name}={i}" for i, (name, _) in enumerate(classes))
    how = (
        f"load_image_folder({str(root)!r}, size={target}, grayscale={grayscale}, "
        f"flatten={flatten}); classes: {names}"
    )
    return Dataset(x, np.array(labels, dtype=np.int64), "classification", root.name, how)
