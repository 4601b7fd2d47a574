"""Real images -> MNIST-style input: polarity, lighting, aspect, file formats, and bad files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from digitlite.edge.vision.decode import load_gray, load_image
from digitlite.edge.vision.errors import ImageError
from digitlite.edge.vision.imageops import components
from digitlite.edge.vision.inputs import preprocess_file
from digitlite.edge.vision.preprocess import find_digits, preprocess_gray

pytestmark = pytest.mark.edge  # numpy and Pillow only: also run where only tflite-runtime is installed


def photo_of(digit: np.ndarray, size=(480, 640), scale=300, ink=0.75, paper=210.0, gradient=0.4, noise=6.0,
             seed=0, at=None) -> np.ndarray:
    """Dark ink on light paper: an MNIST digit enlarged onto a lit, noisy page."""
    rng = np.random.default_rng(seed)
    h, w = size
    page = np.full(size, paper, np.float32)
    big = np.asarray(Image.fromarray(digit).resize((scale, scale), Image.BICUBIC), np.float32)
    y, x = at if at else ((h - scale) // 2, (w - scale) // 2)
    page[y:y + scale, x:x + scale] -= big * ink
    xx = np.mgrid[0:h, 0:w][1]
    page *= (1 - gradient) + gradient * xx / w
    page += rng.normal(0, noise, size)
    return np.clip(page, 0, 255)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two 28x28 images, allowing a shift of one pixel (thin strokes, resampling)."""
    best = -1.0
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = np.roll(a.astype(float), (dy, dx), axis=(0, 1))
            best = max(best, float(np.corrcoef(shifted.ravel(), b.ravel().astype(float))[0, 1]))
    return best


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.test_images[:20]


def test_mnist_style_input_is_kept_nearly_as_is(digits):
    for d in digits:
        out = preprocess_gray(d.astype(np.float32))
        assert out.dtype == np.uint8 and out.shape == (28, 28)
        assert similarity(out, d) > 0.85


def test_output_is_centred_by_mass_and_fits_20x20(digits):
    for d in digits:
        out = preprocess_gray(photo_of(d)).astype(float)
        ys, xs = np.nonzero(out > 30)
        assert ys.max() - ys.min() <= 22 and xs.max() - xs.min() <= 22
        cy = (out.sum(1) * np.arange(28)).sum() / out.sum()
        cx = (out.sum(0) * np.arange(28)).sum() / out.sum()
        assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0


def test_dark_ink_on_uneven_noisy_paper_matches_the_clean_digit(digits):
    for i, d in enumerate(digits):
        out = preprocess_gray(photo_of(d, seed=i, gradient=0.5, noise=8))
        assert similarity(out, preprocess_gray(d.astype(np.float32))) > 0.7, i


def test_polarity_does_not_matter(digits):
    for d in digits:
        page = photo_of(d, noise=0, gradient=0)
        a, b = preprocess_gray(page), preprocess_gray(255 - page)
        assert similarity(a, b) > 0.95


def test_aspect_ratio_is_kept():
    one = np.zeros((200, 200), np.float32)
    one[20:180, 90:110] = 255  # a tall bar: a "1"
    out = preprocess_gray(one)
    ys, xs = np.nonzero(out > 60)
    assert ys.max() - ys.min() + 1 >= 19 and xs.max() - xs.min() + 1 <= 6


def test_thin_strokes_are_thickened_to_mnist_width(digits):
    page = np.full((600, 600), 230, np.float32)
    page[100:500, 298:301] = 20  # a 3-pixel pen line on a big page
    out = preprocess_gray(page)
    widths = (out[8:20] > 80).sum(axis=1)
    assert widths.mean() >= 1.5  # not a hairline after scaling 400 -> 20


def test_exif_orientation_is_honoured(digits):
    upright = Image.fromarray(photo_of(digits[0]).astype(np.uint8))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = png_bytes(stored, format="JPEG", exif=exif.tobytes(), quality=95)
    a = preprocess_file(data, "photo.jpg")
    b = preprocess_gray(np.asarray(upright, np.float32))
    assert similarity(a, b) > 0.9


@pytest.mark.parametrize("mode", ["RGBA-dark", "RGBA-light", "LA", "P", "I;16", "CMYK", "RGB", "1"])
def test_image_modes(digits, mode):
    d = digits[1]
    ref = preprocess_gray(d.astype(np.float32))
    if mode == "RGBA-dark":  # black strokes on a transparent background (a paint program)
        rgba = np.zeros((28, 28, 4), np.uint8)
        rgba[..., 3] = d
        img = Image.fromarray(rgba, "RGBA")
    elif mode == "RGBA-light":  # white strokes on transparent
        rgba = np.full((28, 28, 4), 255, np.uint8)
        rgba[..., 3] = d
        img = Image.fromarray(rgba, "RGBA")
    elif mode == "LA":
        img = Image.fromarray(np.stack([255 - d, np.full_like(d, 255)], -1), "LA")
    elif mode == "P":
        img = Image.fromarray(d).convert("P")
    elif mode == "I;16":
        img = Image.fromarray(d.astype(np.uint16) * 257)
        assert img.mode.startswith("I;16")
    elif mode == "CMYK":
        img = Image.fromarray(np.stack([d] * 3, -1)).convert("CMYK")
    elif mode == "RGB":
        img = Image.fromarray(np.stack([255 - d] * 3, -1))
    else:
        img = Image.fromarray(d > 127)
    fmt = "JPEG" if mode == "CMYK" else ("TIFF" if mode == "CMYK" else "PNG")
    out = preprocess_file(png_bytes(img, format=fmt), f"{mode}.png")
    assert similarity(out, ref) > (0.6 if mode == "1" else 0.8), mode


def test_animated_gif_uses_the_first_frame(digits):
    frames = [Image.fromarray(digits[0]), Image.fromarray(digits[1])]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    out = preprocess_file(buf.getvalue(), "anim.gif")
    assert similarity(out, preprocess_gray(digits[0].astype(np.float32))) > 0.9


@pytest.mark.parametrize("data, message", [
    (b"", "not an image"),
    (b"hello, I am a text file", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "not an image"),  # PNG signature, no valid chunk
])
def test_unreadable_files(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data, "bad.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files(digits, fmt):
    data = png_bytes(Image.fromarray(photo_of(digits[0]).astype(np.uint8)), format=fmt)
    with pytest.raises(ImageError, match="bad.img: .*(truncated|cannot decode)"):
        load_image(data[: len(data) // 2], "bad.img")


def test_decompression_bomb_is_refused_before_decoding():
    bomb = png_bytes(Image.new("1", (9000, 9000)))  # 81 M pixels in a few kilobytes
    assert len(bomb) < 200_000
    with pytest.raises(ImageError, match="too large"):
        load_image(bomb, "bomb.png")


@pytest.mark.parametrize("image", [
    np.full((300, 300), 200.0, np.float32),  # blank page
    np.clip(np.random.default_rng(0).normal(200, 2, (300, 300)), 0, 255).astype(np.float32),  # blank, grainy
    np.zeros((1, 1), np.float32),  # 1x1
    np.full((5, 400), 255.0, np.float32),
])
def test_no_digit_is_a_clear_error(image):
    with pytest.raises(ImageError, match="no digit found"):
        preprocess_gray(image, "page.png")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="nope.png: no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)


def test_multi_digit_number_left_to_right(digits):
    # "7 2 1 0" written on one page, with a speck of dirt and uneven light
    page = np.full((300, 900), 215.0, np.float32)
    chosen = [0, 1, 2, 3]
    for k, i in enumerate(chosen):
        big = np.asarray(Image.fromarray(digits[i]).resize((180, 180), Image.BICUBIC), np.float32)
        page[60:240, 40 + k * 210: 220 + k * 210] -= big * 0.8
    page[20:23, 850:853] = 40
    page *= 0.6 + 0.4 * np.mgrid[0:300, 0:900][1] / 900
    found = find_digits(page, "number.png")
    assert len(found) == 4
    xs = [d.box[0] for d in found]
    assert xs == sorted(xs)
    for d, i in zip(found, chosen):
        assert similarity(d.pixels, preprocess_gray(digits[i].astype(np.float32))) > 0.8


def flood_fill_components(mask: np.ndarray) -> list[set]:
    """The 8-connected components of ``mask`` as sets of (y, x), by breadth-first flood fill."""
    h, w = mask.shape
    seen = np.zeros_like(mask, bool)
    found = []
    for y in range(h):
        for x in range(w):
            if mask[y, x] and not seen[y, x]:
                stack, members = [(y, x)], set()
                seen[y, x] = True
                while stack:
                    cy, cx = stack.pop()
                    members.add((cy, cx))
                    for dy in (-1, 0, 1):
                        for dx in (-1, 0, 1):
                            ny, nx = cy + dy, cx + dx
                            if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                                seen[ny, nx] = True
                                stack.append((ny, nx))
                found.append(members)
    return found


def test_component_labelling_against_flood_fill():
    rng = np.random.default_rng(1)
    for _ in range(20):
        mask = rng.random((30, 40)) > rng.uniform(0.3, 0.8)
        labels, stats = components(mask)
        reference = flood_fill_components(mask)
        assert len(stats) == len(reference)
        assert (labels > 0).sum() == mask.sum()
        for members in reference:
            ids = {int(labels[p]) for p in members}
            assert len(ids) == 1  # one component, one label ...
            k = ids.pop()
            ys, xs = zip(*members)
            assert tuple(stats[k - 1]) == (min(xs), min(ys), max(xs) + 1, max(ys) + 1, len(members))  # ... and its stats
    labels, stats = components(np.zeros((4, 5), bool))
    assert stats.shape == (0, 5) and not labels.any()


def test_sheet_photographed_on_a_dark_table(digits):
    frame = np.full((480, 640), 35.0, np.float32)  # the table fills the border
    sheet = photo_of(digits[3], size=(400, 480), scale=220, noise=3, gradient=0.2)
    frame[40:440, 80:560] = sheet
    out = preprocess_gray(frame)
    assert similarity(out, preprocess_gray(digits[3].astype(np.float32))) > 0.75


def test_ruled_lines_across_the_page_are_ignored(digits):
    page = photo_of(digits[4], noise=3, gradient=0.2)
    for y in range(20, 480, 45):
        page[y:y + 2, :] = np.minimum(page[y:y + 2, :], 120)  # lines from edge to edge
    out = preprocess_gray(page)
    assert similarity(out, preprocess_gray(digits[4].astype(np.float32))) > 0.7


def test_a_big_jpeg_is_decoded_at_a_reduced_size(digits):
    photo = photo_of(digits[5], size=(3000, 4000), scale=1400, noise=4)
    data = png_bytes(Image.fromarray(photo.astype(np.uint8)), format="JPEG", quality=90)
    gray, reduction = load_gray(data, "phone.jpg", side=320)
    assert reduction == 8 and gray.shape == (375, 500)  # the JPEG's own 1/8 decoding
    full, one = load_gray(data, "phone.jpg")
    assert one == 1 and full.shape == (3000, 4000)
    assert similarity(preprocess_gray(gray), preprocess_gray(full)) > 0.9
    assert similarity(preprocess_file(data, "phone.jpg"), preprocess_gray(digits[5].astype(np.float32))) > 0.7
    png = png_bytes(Image.fromarray(photo[:600, :800].astype(np.uint8)))
    gray, reduction = load_gray(png, "p.png", side=320)  # other formats: reduced by a whole factor after decoding
    assert reduction == 2 and gray.shape == (300, 400)
