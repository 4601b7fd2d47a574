"""Decoding an image file to grey: EXIF orientation, palette, alpha, 16-bit, CMYK, a large JPEG at a
reduced size, and refusing decompression bombs before they are decoded."""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps

from digitlite.edge.vision.errors import ImageError

MAX_PIXELS = 40_000_000  # refuse larger images (decompression bombs) before decoding them
WORK_SIDE = 320  # images are shrunk so their longer side is at most this before analysis


def load_image(source, name: str | None = None, side: int | None = None) -> np.ndarray:
    """Decode an image file (path or bytes) to a float32 grayscale array in 0..255.

    Honours EXIF orientation; flattens alpha onto a background that contrasts with the
    opaque pixels; handles palette, 16-bit, CMYK and animated images (first frame).  With
    ``side``, a JPEG is decoded at the smallest of 1/1, 1/2, 1/4, 1/8 of its size that still
    has ``side`` pixels on its longer side (the format's own reduced decoding): a phone
    photo is read in a fraction of the time.
    """
    return load_gray(source, name, side)[0]


def load_gray(source, name: str | None = None, side: int | None = None,
              box: tuple[float, float, float, float] | None = None) -> tuple[np.ndarray, float]:
    """``load_image``, also returning how many original pixels one returned pixel spans.

    With ``side``, other formats than JPEG are reduced after decoding by the largest whole
    factor that keeps ``side`` pixels (a box filter, before any float copy is made), so that a
    large PNG costs little memory.  ``box`` (x0, y0, x1, y1 as fractions of the oriented
    image) returns only that part.
    """
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "<image>")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow warns about corrupt EXIF or TIFF tags and decodes what it can; this tool
            # answers for the file itself, in one line, so the warnings are not printed.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(f"{label}: {img.width}x{img.height} is too large (over {MAX_PIXELS:,} pixels)")
            img.seek(0)
            reduction = 1.0
            if side and img.format == "JPEG" and img.mode in ("L", "RGB", "YCbCr") and max(img.size) > side:
                full_width, scale = img.width, side / max(img.size)
                img.draft("L", (max(1, int(img.width * scale)), max(1, int(img.height * scale))))
                reduction = full_width / img.width
            if img.getexif().get(0x0112, 1) != 1:  # an EXIF orientation to apply (exif_transpose copies otherwise)
                img = ImageOps.exif_transpose(img)
            img.load()
            if box is not None:
                w, h = img.size
                img = img.crop((int(box[0] * w), int(box[1] * h), max(int(box[0] * w) + 1, int(np.ceil(box[2] * w))),
                                max(int(box[1] * h) + 1, int(np.ceil(box[3] * h)))))
            factor = max(img.size) // side if side else 1
            if factor >= 2 and img.mode in ("P", "PA", "1", "L", "LA", "RGB", "RGBA"):
                if img.mode in ("P", "PA", "1"):
                    img = img.convert("RGBA" if img.mode != "1" else "L")
                img = img.reduce(factor)
                reduction *= factor
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a folder") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{label}: too large (over {MAX_PIXELS:,} pixels): refused as a possible decompression bomb") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{label}: not an image (or a format Pillow cannot read)") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise ImageError(f"{label}: cannot decode ({str(e).strip() or type(e).__name__}); truncated or corrupt?") from None
    if img.width < 1 or img.height < 1:
        raise ImageError(f"{label}: empty image ({img.width}x{img.height})")
    return to_gray(img), reduction  # EXIF rotation may swap the sides: the reduction is the same on both


LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # RGB -> gray, as Pillow's "L"


def to_gray(img: Image.Image) -> np.ndarray:
    """Any Pillow image -> float32 grayscale 0..255 (alpha flattened onto a contrasting background)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float32)
        lo, hi = float(a.min()), float(a.max())
        return (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    if img.mode == "P" or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("LA", "RGBA", "La", "RGBa"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        return flatten_alpha(rgba[..., :3] @ LUMA, rgba[..., 3] / 255.0)
    return np.asarray(img.convert("L"), dtype=np.float32)


def flatten_alpha(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Grey 0..255 with its opacity 0..1 -> grey on a background that contrasts with the opaque
    pixels (white behind dark ink, black behind light ink): ink on a transparent sheet stays ink."""
    if alpha.min() >= 1.0:
        return gray
    opaque = alpha > 0.5
    ink_is_dark = opaque.any() and gray[opaque].mean() < 128
    background = 255.0 if ink_is_dark or not opaque.any() else 0.0
    return gray * alpha + background * (1 - alpha)


def shrink(gray: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """``gray`` (float32) shrunk with a box filter so that its longer side is at most ``side``."""
    h, w = gray.shape
    scale = side / max(h, w)
    if scale >= 1:
        return gray.astype(np.float32, copy=False)
    img = Image.fromarray(gray.astype(np.float32, copy=False), mode="F")
    return np.asarray(img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BOX), dtype=np.float32)
