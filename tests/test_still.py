"""Still images, as people photograph and draw them: a digit at any stroke width and size, a number
cut tight, digits written touching, frames drawn round them, faint and thick ink, and what is too
small to read.  (tests/test_lines.py holds the page's lines; these are the rules around them.)"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_preprocess import photo_of, similarity

from digitlite.edge.vision.decode import load_gray
from digitlite.edge.vision.errors import ImageError
from digitlite.edge.vision.preprocess import (
    Finer,
    find_digits,
    number_candidates,
    preprocess_gray,
)

pytestmark = pytest.mark.edge


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.test_images[:20]


def drawing(strokes, size=(200, 200), width=1, ink=0, paper=255) -> np.ndarray:
    """Strokes (lists of (x, y) in pixels) drawn with a ``width``-pixel pen: float32 gray."""
    img = Image.new("L", (size[1], size[0]), paper)
    draw = ImageDraw.Draw(img)
    for stroke in strokes:
        draw.line(stroke, fill=ink, width=width)
    return np.asarray(img, np.float32)


SEVEN = [[(60, 40), (140, 40), (85, 165)]]
FOUR = [[(110, 30), (50, 120), (150, 120)], [(120, 60), (120, 175)]]


def test_a_one_pixel_line_drawing_is_a_digit_not_specks():
    for strokes in (SEVEN, FOUR):
        out = preprocess_gray(drawing(strokes, width=1), "thin")
        thick = preprocess_gray(drawing(strokes, width=9), "thick")
        assert similarity(out, thick) > 0.8


def test_thin_white_outlines_on_black_are_read():
    out = preprocess_gray(drawing(SEVEN, width=2, ink=255, paper=0), "outline")
    assert similarity(out, preprocess_gray(drawing(SEVEN, width=8), "seven")) > 0.8


def test_a_digit_whose_box_holds_a_piece_of_it_is_read_whole():
    # a 5 with its bar written apart, inside the box of the rest: not a frame round the bar
    five = [[(62, 60), (58, 100)] + [(60 + 45 * np.cos(t), 125 + 38 * np.sin(t)) for t in np.linspace(-2.2, 2.6, 20)],
            [(72, 50), (140, 48)]]
    gray = drawing(five, width=10)
    out = preprocess_gray(gray, "five")
    assert out[:9].sum() > 0 and out[19:].sum() > 0  # the bar at the top and the bowl at the bottom
    rows = np.flatnonzero(out.max(axis=1) > 60)
    assert rows[-1] - rows[0] >= 18  # the whole height of the digit, not its bar alone


def test_a_frame_drawn_round_a_digit_is_not_read_with_it():
    boxed = drawing(SEVEN + [[(15, 15), (185, 15), (185, 185), (15, 185), (15, 15)]], width=8)
    assert similarity(preprocess_gray(boxed, "boxed"), preprocess_gray(drawing(SEVEN, width=8), "seven")) > 0.9


def holes(pixels: np.ndarray) -> int:
    """Background regions of a 28x28 input that the ink encloses (an 8 has two)."""
    from digitlite.edge.vision.imageops import border_connected, components

    background = pixels < 64
    return len(components(background & ~border_connected(background))[1])


def test_a_marker_stroke_wider_than_the_paper_window_keeps_its_crossing():
    # an 8 in a marker whose stroke is a quarter of the picture wide: the crossing is ink, not paper
    img = Image.new("L", (160, 160), 235)
    draw = ImageDraw.Draw(img)
    draw.ellipse((40, 4, 120, 80), outline=20, width=30)
    draw.ellipse((30, 68, 130, 156), outline=20, width=30)
    out = preprocess_gray(np.asarray(img, np.float32), "marker")
    assert holes(out) == 2


def test_faint_ink_in_a_dim_photo_is_found(digits):
    faint = photo_of(digits[1], ink=0.1, paper=190.0, gradient=0.1, noise=1.0)  # 4-10 gray levels of contrast
    out = preprocess_gray(faint, "faint")
    assert similarity(out, preprocess_gray(digits[1].astype(np.float32))) > 0.7


def test_a_small_digit_in_a_large_photo_is_read_from_a_finer_decode(digits):
    # a 3000x4000 phone photo, the digit 5% of its short side (150 pixels of ink): read from the JPEG
    # decoded at 1/8, then finer
    photo = photo_of(digits[3], size=(3000, 4000), scale=210, noise=3, gradient=0.2, at=(1400, 2300))
    buf = io.BytesIO()
    Image.fromarray(photo.astype(np.uint8)).save(buf, format="JPEG", quality=92)
    gray, reduction = load_gray(buf.getvalue(), "phone.jpg", side=320)
    assert reduction == 8
    coarse = preprocess_gray(gray, "phone.jpg")
    fine = preprocess_gray(gray, "phone.jpg", finer=Finer(gray, buf.getvalue(), reduction, "phone.jpg"))
    clean = preprocess_gray(digits[3].astype(np.float32))
    assert similarity(fine, clean) > similarity(coarse, clean) and similarity(fine, clean) > 0.75


def test_a_mark_too_small_to_read_says_crop_closer(digits):
    photo = photo_of(digits[3], size=(480, 640), scale=10, noise=1, gradient=0.0)
    with pytest.raises(ImageError, match="too small to read: crop closer"):
        preprocess_gray(photo, "tiny")
    with pytest.raises(ImageError, match="too small to read: crop closer"):
        find_digits(photo, "tiny")


def test_a_mark_under_four_percent_of_the_picture_is_too_small_and_five_percent_is_read(digits):
    # a mark of 3.3 % of the short side is no digit (a dash on squared paper read "1" at 92 %); 5 % is read
    small = photo_of(digits[3], size=(480, 640), scale=20, noise=1, gradient=0.0)  # its box: 16 of 480 pixels
    with pytest.raises(ImageError, match="too small to read: crop closer"):
        preprocess_gray(small, "speck")
    readable = photo_of(digits[3], size=(480, 640), scale=34, noise=1, gradient=0.0)
    assert similarity(preprocess_gray(readable, "five percent"), preprocess_gray(digits[3].astype(np.float32))) > 0.7


def number(digits, tight=False, touching=False) -> np.ndarray:
    """MNIST digits side by side on paper: cropped tight (the first and last cut by the border), or
    written so close that neighbours touch."""
    step = 15 if touching else 28
    canvas = np.zeros((28, step * (len(digits) - 1) + 28), np.float32)
    for k, d in enumerate(digits):
        canvas[:, k * step:k * step + 28] = np.maximum(canvas[:, k * step:k * step + 28], d)
    if tight:
        cols = np.flatnonzero(canvas.max(axis=0) > 0)
        canvas = canvas[:, cols[0] + 2:cols[-1] - 1]
    big = np.asarray(Image.fromarray(canvas.astype(np.uint8)).resize((canvas.shape[1] * 5, 140), Image.BICUBIC),
                     np.float32)
    page = np.full((200, big.shape[1] + (0 if tight else 80)), 215.0, np.float32)
    x = 0 if tight else 40
    page[30:170, x:x + big.shape[1]] -= big * 0.75
    return page


def test_a_number_cropped_tight_keeps_its_first_and_last_digit(mnist):
    picks = [int(np.flatnonzero(mnist.test_labels == d)[0]) for d in (0, 4, 8)]
    found = find_digits(number([mnist.test_images[i] for i in picks], tight=True), "tight")
    assert len(found) == 3


def test_touching_digits_are_cut_into_pieces(mnist):
    zero = mnist.test_images[int(np.flatnonzero(mnist.test_labels == 0)[0])]
    gray = number([zero, zero, zero], touching=True)
    assert len(find_digits(gray, "000")) == 1  # one piece of ink ...
    pieces, candidates = number_candidates(gray, "000")
    assert pieces >= 3  # ... cut at its thinnest columns and at others
    assert all(c.pixels.shape == (28, 28) and c.pixels.max() > 200 for c in candidates)
    from digitlite.edge.api import Classifier

    assert Classifier().read_number(gray).number == "000"  # two zeros together are too wide to be one digit


def rings(centres, radius=22, top=40, size=(130, 260), width=4) -> np.ndarray:
    """Circles of ``radius`` drawn in a pen of ``width`` at x ``centres``, a 1 before them."""
    t = np.linspace(0, 2 * np.pi, 60)
    strokes = [[(float(cx + radius * np.sin(a)), float(top + 26 - 26 * np.cos(a))) for a in t] for cx in centres]
    return drawing([[(20, top), (20, top + 52)], *strokes], size=size, width=width)


def test_overlapping_zeros_are_cut_where_they_cross_not_at_their_thinnest_column():
    # 1000 with its middle zeros overlapping (the real owaisasghar 1000s): the thinnest column of
    # the two lies at the edge of their crossing, which leaves half a ring on each side, so the
    # number read 100 (two half rings left out as "not a digit")
    from digitlite.edge.api import Classifier

    read = Classifier().read_number
    assert [read(rings([62, second, third])).number for second, third in ((96, 150), (100, 150), (104, 160))] == [
        "1000"] * 3


def test_a_short_mark_touching_a_digit_is_not_read_as_a_digit_of_its_own():
    # a 5 whose foot runs into a short stroke, then a 4: the stroke may be left out, and the 5,
    # cut at other columns too, is still read once (its halves also look like 5s)
    from digitlite.edge.api import Classifier

    five = [[(130, 40), (80, 40), (75, 95), (110, 90), (130, 120), (120, 160), (80, 165)], [(40, 165), (80, 165)]]
    gray = drawing([*five, [(190, 40), (170, 120), (230, 120)], [(215, 80), (215, 170)]], size=(210, 260),
                   width=8)
    assert Classifier().read_number(gray).number == "54"


def test_a_digit_in_two_strokes_apart_is_offered_whole_too():
    # a 4 whose stem is written apart from the rest, then a 1
    strokes = [[(40, 40), (30, 120), (80, 120)], [(95, 60), (95, 170)], [(160, 40), (160, 170)]]
    pieces, candidates = number_candidates(drawing(strokes, size=(200, 220), width=8), "41")
    assert pieces == 3 and (0, 2) in [(c.first, c.last) for c in candidates]


def test_a_one_as_tall_as_the_digit_beside_it_and_apart_is_not_offered_with_it():
    # a 5 and a 1: together they read 5, so the 1 would be lost; a 4's halves (above) are still joined
    five = [[(95, 40), (45, 40), (42, 95)]
            + [(65 + 38 * np.cos(t), 125 + 38 * np.sin(t)) for t in np.linspace(-2.4, 2.5, 20)]]
    pieces, candidates = number_candidates(drawing(five + [[(140, 40), (136, 165)]], size=(200, 200), width=8), "51")
    assert pieces == 2 and [(c.first, c.last) for c in candidates] == [(0, 1), (1, 2)]


def test_a_piece_as_tall_as_the_numbers_digits_is_not_lightly_left_out(mnist, tmp_path):
    # a 1 and a 7, then a mark half their height: the 1 and the 7, as tall as the number's digits,
    # weigh "not a digit" less; the mark may be left out at the model's own odds
    from digitlite.edge.vision.preprocess import TALL_PIECE_MARK

    strokes = [[(30, 40), (30, 170)], [(70, 40), (120, 40), (80, 170)], [(165, 110), (165, 170)]]
    pieces, candidates = number_candidates(drawing(strokes, size=(210, 210), width=8), "17'")
    assert pieces == 3
    assert [c.droppable for c in candidates if c.last - c.first == 1] == [TALL_PIECE_MARK, TALL_PIECE_MARK, 1.0]
    # the rendered ruled numbers' 37th (seed 7): its thin 1, read "not a digit" at the model's odds, was
    # left out (126 read 26)
    from digitlite.benchmarks.realworld import build_numbers
    from digitlite.edge.api import Classifier

    build_numbers(tmp_path, 37, 7, mnist.test_images, mnist.test_labels)
    assert Classifier().read_number(str(tmp_path / "0036_on.jpg")).number == "126"


def test_a_number_joined_along_its_foot_by_an_underline_is_cut_into_its_digits():
    # 0 0 1 written on a short underline that touches each digit's foot: one piece far wider than
    # any digit, which was refused whole as a dash (the real 001 below read "")
    # (a strip this small holds no page lines to look for: the underline is ink like the rest)
    t = np.linspace(0, 2 * np.pi, 40)
    ring = [[(float(cx + 11 * np.sin(a)), float(21 - 14 * np.cos(a))) for a in t] for cx in (17, 48)]
    strokes = [*ring, [(76, 7), (76, 35)], [(6, 36), (88, 36)]]
    gray = drawing(strokes, size=(42, 92), width=3)
    from digitlite.edge.api import Classifier

    assert Classifier().read_number(gray).number == "001"


def nine(tail_ink: int = 0, line: int | None = None) -> np.ndarray:
    """A 9 in a 2-pixel pen on an 800x800 page (its strokes fade at the working size), its tail in
    ink ``tail_ink`` (0 black .. 255 paper), with a 1-pixel ruled line of ink ``line`` through it."""
    img = Image.new("L", (800, 800), 255)
    draw = ImageDraw.Draw(img)
    draw.ellipse((330, 230, 470, 370), outline=0, width=2)
    draw.line([(470, 300), (450, 560)], fill=tail_ink, width=2)
    if line is not None:
        draw.line([(0, 340), (800, 340)], fill=line, width=1)
    return np.asarray(img, np.float32)


def test_a_thin_pens_fainter_stroke_is_read_with_the_rest():
    # the tail is lighter than the loop: under the ink's threshold, and joined to ink above it
    assert similarity(preprocess_gray(nine(tail_ink=140), "faint tail"), preprocess_gray(nine(), "nine")) > 0.9


def test_faint_ink_joined_to_a_digit_is_not_grown_along_a_ruled_line():
    # a line as faint as the tail above runs through the loop: it stays out of the digit
    assert similarity(preprocess_gray(nine(line=120), "ruled"), preprocess_gray(nine(), "nine")) > 0.95
    # nor when a speck on the line, far off, makes the digit's ink seem to reach the page's edge


REAL_NUMBERS = Path(__file__).resolve().parents[2] / "shared" / "real_photos" / "multi"


@pytest.mark.parametrize("name, number", [
    ("huangzhenyu12138__Handwriting-multi-digit-and-word-recognition-with-Deep-Convolutional-Neural-Networks__6789.png",
     "6789"),  # a 9's tail in a fading pen
    ("Polonimos-404__handwriting-digit-OCR-based-on-BP-network__6.jpg", "0123456789"),  # a thin, faint 5
    ("Polonimos-404__handwriting-digit-OCR-based-on-BP-network__20240417210539.jpg", "1234567890"),  # a faint 1
    ("owaisasghar__Handwritten-Number-OCR__cropped_image_29.jpg", "001"),  # its underline joins the digits' feet
])
def test_real_numbers_in_a_thin_pen_keep_every_digit(name, number):
    from digitlite.edge.api import Classifier

    path = REAL_NUMBERS / name
    assert path.is_file(), f"{path}: the real photos are needed beside the repository"
    assert Classifier().read_number(path).number == number


def test_a_blurred_faint_real_photo_keeps_the_fainter_side_of_its_stroke():
    from digitlite.edge.api import Classifier

    path = REAL_NUMBERS.parent / "single" / "vladfatu__Neural-Networks-In-Java__4.jpg"  # a 4 out of focus, in dim light
    assert path.is_file(), f"{path}: the real photos are needed beside the repository"
    assert Classifier().classify(path).digit == 4


def test_a_blurred_ring_under_the_noise_floor_is_never_a_confident_wrong_digit():
    from digitlite.edge.api import Classifier

    # a 0 out of focus in a grainy photo: the noise floor cuts most of its ring, leaving a bar
    path = REAL_NUMBERS.parent / "single" / "vladfatu__Neural-Networks-In-Java__0.jpg"
    assert path.is_file(), f"{path}: the real photos are needed beside the repository"
    reading = Classifier().classify(path)
    assert reading.digit in (0, None)  # read right, or refused: never another digit (it read 1 at 92%)


def test_a_faint_rule_through_a_digit_is_not_grown_off_the_page(tmp_path, mnist):
    # the Pi emulation's photo set: a pencil 7 on ruled paper whose rule, fainter than the 7, runs
    # off both edges with a speck on it; grown along, it made the 7 "scattered marks"
    from digitlite.benchmarks.realworld import build_set
    from digitlite.edge.api import Classifier

    build_set(tmp_path, per_digit=10, seed=7, mnist_images=mnist.test_images, mnist_labels=mnist.test_labels)
    assert Classifier().classify(tmp_path / "7_000_strokes_photo.jpg").digit == 7


def empty_sheet(seed: int) -> np.ndarray:
    """A photo of empty white paper: darker towards the corners (a vignette) and blotchy bright grain."""
    rng = np.random.default_rng(seed)
    h, w = 240, 320
    blot = np.asarray(Image.fromarray(rng.normal(0, 1, (24, 32)).astype(np.float32), "F").resize((w, h), Image.BICUBIC))
    yy, xx = np.mgrid[0:h, 0:w]
    vignette = 1 - 1.4 * (((yy - h / 2) / h) ** 2 + ((xx - w / 2) / w) ** 2)
    return np.clip(225 * vignette + 6 * np.maximum(blot, 0) ** 2 + rng.normal(0, 2, (h, w)), 0, 255).astype(np.float32)


def test_bright_paper_is_never_read_as_light_ink():
    # the grain of empty paper stands out bright and its dark corners make the border dark: it was
    # taken for light ink on dark paper, and its grain read as a 9; light ink's paper is dark
    from digitlite.edge.vision.ink import dark_ink_guess

    assert all(dark_ink_guess(empty_sheet(seed)) for seed in range(6))
    chalk = 255 - empty_sheet(0)  # the same picture inverted: light marks on a dark board stay light
    chalk[100:140, 150:156] = 250
    assert not dark_ink_guess(chalk)


def _on_a_rule(strokes, along=(), size=(240, 320)) -> np.ndarray:
    """``strokes`` drawn with a 7-pixel pen on ruled paper (rules at y = 20 and 170, 5 pixels wide and
    nearly as dark as the pen), then ``along``, the strokes written along a rule, with a 5-pixel pen."""
    img = Image.fromarray(drawing([*strokes, *along], size=size, width=7).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for y in (20, 170):
        draw.line([(0, y), (size[1], y)], fill=40, width=5)
    for stroke in along:
        draw.line(stroke, fill=0, width=5)
    return np.asarray(img, np.float32)


TWO_ON_RULE = [[(60 + 35 * np.cos(t), 75 + 32 * np.sin(t)) for t in np.linspace(-2.9, 0.5, 16)]
               + [(52, 170), (135, 170)]]
EIGHT = [[(210 + 30 * np.cos(t), 75 + 28 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 24)],
         [(210 + 36 * np.cos(t), 138 + 32 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 24)]]


def test_a_digit_whose_stroke_lies_on_a_rule_is_offered_with_the_rules_ink_too():
    from digitlite.edge.api import Classifier

    # the 2's base lies on the rule and goes with it: what is left of the 2 is a 7
    pieces, candidates = number_candidates(_on_a_rule(EIGHT, TWO_ON_RULE), "28")
    assert pieces == 2
    first = [c for c in candidates if (c.first, c.last) == (0, 1)]
    assert len(first) == 2
    as_is, with_rule = first
    # given back, the base is in the input: ink across the bottom rows, under the 7's foot
    assert with_rule.pixels[18:24].sum() > 1.5 * as_is.pixels[18:24].sum()
    proba = Classifier().candidate_proba(np.stack([as_is.pixels, with_rule.pixels]))
    assert proba[0].argmax() == 7 and proba[1].argmax() == 2
    # read as it is, the piece must be a digit; with the rule's ink, it may be a mark left out
    assert not as_is.droppable and with_rule.droppable


def test_digits_standing_on_a_rule_read_as_themselves():
    from digitlite.edge.api import Classifier

    seven = [[(40, 40), (120, 40), (70, 168)]]
    assert Classifier().read_number(_on_a_rule(seven + EIGHT)).number == "78"


@pytest.mark.parametrize("name, number", [
    ("owaisasghar__Handwritten-Number-OCR__cropped_image_10.jpg", "286"),
    ("owaisasghar__Handwritten-Number-OCR__cropped_image_12.jpg", "268"),
])
def test_real_numbers_whose_2_is_written_along_the_rule_keep_it(name, number):
    from digitlite.edge.api import Classifier

    path = REAL_NUMBERS / name
    assert path.is_file(), f"{path}: the real photos are needed beside the repository"
    assert Classifier().read_number(path).number == number
