"""Pictures made for training, each read by the edge runtime's own reading: digits re-drawn, and
what is not a digit.

Real pictures reach the model through ``preprocess_gray``, which leaves its marks on the 28x28
input (stroke cores at full white, thin strokes thickened, the box fitted).  If only the
non-digits went that way, the model would learn those marks as "not a digit" and refuse real
digits; so part of the MNIST training digits are re-drawn as pictures (enlarged, thinned or
thickened, dark ink on paper or light on dark, noise) and read the same way (``redrawn``).

The shipped model answers "not a digit" (class 10) as well as 0-9.  It learns that class from
images made here, with numpy and Pillow, from a seed (``generate``):

* ``letters``: pen strokes of the letters and symbols that no digit looks like (A, H, K, R,
  x, +, ?, #, a heart, a star, ...), with jitter, slant, pen width and size as a hand varies
  them; letters that a digit can look like (O, I, l, S, Z, B, G, b, g, q) are left out;
* ``scribbles``: random pen paths, zigzags, spirals, hatching, crossings and filled blobs;
* ``halves``: the top or bottom half of an MNIST training digit (never a test digit), only of
  digits whose half looks like no digit;
* ``paper``: empty paper as a camera sees it, a shadow's edge, the sheet's edge on the desk,
  a fold, a lone line at an angle no "1" is written at, and specks.

Each picture goes through the edge runtime's own reading (``preprocess_gray``), so that the
class learns the 28x28 inputs such things become on the way to the model; a picture the
reading already refuses (blank, too small) is dropped.  No real photo and no MNIST test image
is used.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from digitlite.edge.deploy import npm
from digitlite.edge.vision import imageops
from digitlite.edge.vision.errors import ImageError
from digitlite.edge.vision.preprocess import preprocess_gray

NOT_A_DIGIT = 10  # the class index
KINDS = ("letters", "font letters", "scribbles", "halves", "paper")
SHARE = {"letters": 0.2, "font letters": 0.35, "scribbles": 0.15, "halves": 0.15, "paper": 0.15}
CANVAS = 112
HALF_POOL = 3000  # training digits handed to each chunk of non-digits for the halves
# Handwriting fonts (Google Fonts, packaged on npm by Fontsource; OFL or Apache 2.0), for letters
# and digits written in other hands than the pen strokes here.  None of them is one of the fonts
# the "not a digit" benchmark tests with (benchmarks/nondigits.py; a test checks that).
FONTS = tuple(npm.Package(f"@fontsource/{name}", "5.3.0", integrity) for name, integrity in (
    ("gochi-hand", "sha512-IW6Xo3wbZuTLyx7hZzIr7+VSQwQ3oEiLZRphBnuNVaK+dhdxwYw57/r1NVi8x1ubX4OYyCG2S04mH6tLhanIsQ=="),
    ("schoolbell", "sha512-7AWeUHHTiLIKz2V8d0fuG7mw8tlEoQ8Z8dtTpXTEs9hE2z6YFe1RjCCFtYuaSuPLZqYNVqzQ7owG/xJpTyY55w=="),
    ("homemade-apple", "sha512-awJSYTbSY3SroC8nirEhDauHvERVvm0LI3FpUHsPZXl9Tht1xrqhiI8ro4yf3ROcvQ7CfFJ/2+DLcOHBOXhJKw=="),
    ("nothing-you-could-do",
     "sha512-695oxA7Odedd4rqN9aDhgVUwtyYhfmIJH02y32g/B0yoaVMRwTCZe3TYFt8LodpKeN/8v5w+svcyde0eBBE28g=="),
    ("just-another-hand", "sha512-bTlWMHx7fSJK5LGAJVlna6ZkOPsgz71J2lBGl931BiigvHeV0/5y7hT2evZWEztlEtNJ29ksqLpJcYc1qZ0HFA=="),
    ("coming-soon", "sha512-a5SW74ZAVTiGhu3Ml+rRvySYiW4kCXps+CTfPGIoEMbOl11Cy2xOF5UE2Pxlili4fGYrd/bAStaDFqbtEemx6A=="),
    ("delius", "sha512-gl1jlqiY302zPebYu5VPR9eimIzdaCQCLDALpqWLgU0F80mMlu7p8X8p1ivSFif/qBpttprrryErqxj/VFYzDA=="),
    ("itim", "sha512-y3m8RZeRCclnuQHgiRYIitCKc7iOthBo2SBYY8aDuyToKwGAvRMvBXHy6mdYceJbamRQrShEspXzkXTMDN20nQ=="),
    ("mali", "sha512-/H7zdnFcBUdLh7mPUCLWfCoQVgtvnVKrlHjknq90kltPvUcu0nC9ybne4z2rzTghV9ez9N7nRDvRZesODB/YbQ=="),
    ("short-stack", "sha512-nhIm4HgWq6AsM9Sg32OrsC298avDiDhqoMRMYpv5T5OSCIpAwPXpnIgJYJVLzkSC9hOqhKxX5NGZ2ViaDM+7MQ=="),
    ("neucha", "sha512-7PoHR/5toTeYP3T6wJyZ8xcT3uTJ6UcyAgrDo1OIUtKX/xuxbblvUyVQcN0lQEppY6EgkCC8zMkFsBhwUvWXBg=="),
    ("waiting-for-the-sunrise",
     "sha512-bWgydceOU/hl2oNpG2H4M2JIhla8OM4MZsTGPTKWlxlBjhPtmfABziRbTg63bh4OnG7aiM6tCq6mub6Dd+ckcg=="),
    ("sue-ellen-francisco",
     "sha512-cwzU21In+AcbXarvXqFrsTC9GEqMUvm3lHuNmu3DfcNkUcBIGUAL0tr5OklYJiHzuM4aJiZF1nj4gQN51Ri71Q=="),
    ("la-belle-aurore", "sha512-EEzeg3+Ym/9ESBw98/8OckEDxlkMMrR0wlwctGNX9oN1X2DyQHHLppB/ErwfwkptiWtkZYRNyNfZPkUcaFn/Ag=="),
    ("zeyada", "sha512-c2bBcLATKk5vGouGX5NeHiHEom1u+7TiHsdfNPIUgO0DL3jl5PTGWWjlMjoPh2vhllA9XiKCTS/8MY2ylT95vw=="),
    ("mansalva", "sha512-Ue525bEZRg7Zu3PbfBW08JxmpAgJD4zgVgv5cMzgoLLh0inGFvKKHTwx7NPImv+VFrfqde/E2V8HWWnSgkabRw=="),
    ("pangolin", "sha512-3avtyqWX2QiQXKxVChWeVtF3FpB/wcojYXP13oO30WG44Ox9bCUHuHEtMd6NVgqpXSUqNLFaLm8K+29xVzkDZQ=="),
    ("annie-use-your-telescope",
     "sha512-FKBTv9j8AMRlHGRtTTSF3NYWs/0MVfOZzpvgp5phBVW+zAzh1iC+uglKiPYCYNy0T+Cr4wyREqVezYpHxQuskw=="),
    ("cedarville-cursive",
     "sha512-wHP/LV0JvHoZRpfNAnDa9p9dAjIqB0gaG44MLs4+MsuQhL3i6+zGDTmxvxMx4bRe6r/HkChxIaMxjWOfjfSdGg=="),
    ("the-girl-next-door",
     "sha512-ysHz6+NKIRzT7z++4TrDb6sTd6GvyItwFukOBxT7fmGS87NEkiBaq86gNXqaTiaBGZ9X0Jyryx9dHHNagAeHHw=="),
    ("walter-turncoat", "sha512-X+pB5BQw6/rq6bFmkQ1YEItelws7LM7j8ow129eiJUdCmRSr8zWgug4qJWyPKBDsyBfzTe4OMEzDsa4/2jbDOA=="),
    ("crafty-girls", "sha512-y4od4B+RjEqi7lXu3YTrLpKY5P+ZMPw/M2pAuUSQQPRJXD2zyZKldxqD53osItC/xWa++N5OmsZ3+O0XM15ZXA=="),
))
# What the fonts write for "not a digit": letters no digit looks like (as for GLYPHS), and symbols.
FONT_LETTERS = "ACEFHKLMNPRTUVWXYacdefhkmnprtuvwxy+=?#%&@$*<>~^"


def _arc(cx, cy, rx, ry, a0, a1, n=20):
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


def _l(*points):
    return list(points)


# Pen strokes in a unit box (x right, y down; angles in degrees, 90 = down), a list of styles
# per glyph, each style a list of strokes.
GLYPHS = {
    "A": [[_l((.15, .92), (.5, .08), (.85, .92)), _l((.3, .58), (.7, .58))],
          [_l((.2, .92), (.45, .1), (.55, .1), (.82, .92)), _l((.3, .6), (.72, .6))]],
    "C": [[_arc(.55, .5, .35, .42, -50, -310)]],
    "E": [[_l((.8, .1), (.25, .1), (.25, .9), (.8, .9)), _l((.25, .5), (.68, .5))],
          [_arc(.55, .3, .28, .2, -30, -270) + _arc(.55, .7, .32, .22, -90, -330)]],
    "F": [[_l((.8, .1), (.28, .1), (.28, .92)), _l((.28, .5), (.68, .5))]],
    "H": [[_l((.22, .08), (.22, .92)), _l((.78, .08), (.78, .92)), _l((.22, .5), (.78, .5))]],
    "K": [[_l((.25, .08), (.25, .92)), _l((.78, .1), (.27, .55), (.8, .92))]],
    "L": [[_l((.28, .08), (.28, .9), (.8, .9))]],
    "M": [[_l((.12, .92), (.2, .1), (.5, .6), (.8, .1), (.88, .92))]],
    "N": [[_l((.2, .92), (.22, .1), (.78, .9), (.8, .08))]],
    "P": [[_l((.28, .92), (.28, .1)) + _arc(.42, .3, .3, .2, -90, 90) + _l((.28, .5))]],
    "R": [[_l((.25, .92), (.25, .1)) + _arc(.42, .3, .3, .2, -90, 90) + _l((.25, .5), (.8, .92))]],
    "T": [[_l((.12, .12), (.88, .12)), _l((.5, .12), (.5, .92))]],
    "U": [[_l((.2, .08)) + _arc(.5, .6, .3, .32, 180, 0) + _l((.8, .08))]],
    "V": [[_l((.15, .08), (.5, .92), (.85, .08))]],
    "W": [[_l((.08, .1), (.28, .9), (.5, .35), (.72, .9), (.92, .1))]],
    "X": [[_l((.18, .1), (.82, .9)), _l((.82, .1), (.18, .9))]],
    "Y": [[_l((.15, .08), (.5, .5), (.85, .08)), _l((.5, .5), (.5, .92))]],
    "a": [[_arc(.45, .62, .27, .27, -20, -360) + _l((.72, .35), (.74, .92))]],
    "c": [[_arc(.55, .62, .3, .28, -40, -320)]],
    "e": [[_l((.2, .6), (.78, .6)) + _arc(.5, .6, .3, .28, 0, -300)]],
    "f": [[_arc(.62, .22, .2, .14, -20, -180) + _l((.42, .92)), _l((.2, .45), (.72, .45))]],
    "h": [[_l((.25, .05), (.25, .92)), _l((.25, .62)) + _arc(.5, .62, .25, .22, 180, 360) + _l((.75, .92))]],
    "k": [[_l((.28, .05), (.28, .92)), _l((.72, .38), (.3, .68), (.75, .92))]],
    "m": [[_l((.1, .92), (.1, .4)) + _arc(.3, .55, .2, .18, 180, 360) + _l((.5, .92)),
           _l((.5, .55)) + _arc(.7, .55, .2, .18, 180, 360) + _l((.9, .92))]],
    "n": [[_l((.22, .92), (.22, .38)) + _arc(.5, .58, .28, .22, 180, 360) + _l((.78, .92))]],
    "p": [[_l((.25, .35), (.25, .98)), _l((.25, .45)) + _arc(.48, .55, .25, .22, 200, 520)]],
    "r": [[_l((.3, .92), (.3, .38)), _l((.3, .55)) + _arc(.55, .55, .25, .18, 180, 320)]],
    "t": [[_l((.45, .08), (.45, .85)) + _arc(.6, .85, .15, .08, 180, 30), _l((.18, .35), (.75, .35))]],
    "u": [[_l((.22, .35)) + _arc(.48, .65, .26, .27, 180, 0) + _l((.74, .35), (.76, .92))]],
    "v": [[_l((.2, .35), (.5, .92), (.8, .35))]],
    "w": [[_l((.08, .35), (.28, .92), (.5, .5), (.72, .92), (.92, .35))]],
    "x": [[_l((.22, .35), (.78, .92)), _l((.78, .35), (.22, .92))]],
    "y": [[_l((.2, .3), (.5, .7)), _l((.82, .3), (.3, .98))]],
    "+": [[_l((.5, .15), (.5, .85)), _l((.15, .5), (.85, .5))]],
    "=": [[_l((.15, .38), (.85, .38)), _l((.15, .64), (.85, .64))]],
    "÷": [[_l((.15, .5), (.85, .5)), _arc(.5, .22, .05, .05, 0, 360, 8), _arc(.5, .78, .05, .05, 0, 360, 8)]],
    "?": [[_arc(.5, .3, .26, .22, 190, 420) + _l((.5, .62)), _arc(.5, .88, .03, .03, 0, 360, 6)]],
    "#": [[_l((.38, .1), (.3, .9)), _l((.7, .1), (.62, .9)), _l((.12, .35), (.88, .35)), _l((.1, .65), (.86, .65))]],
    "%": [[_l((.8, .1), (.2, .9)), _arc(.28, .25, .12, .14, 0, 360, 14), _arc(.72, .75, .12, .14, 0, 360, 14)]],
    "&": [[_l((.85, .92), (.3, .35)) + _arc(.45, .25, .15, .15, 160, 380) + _l((.25, .62))
           + _arc(.42, .72, .2, .2, 180, 360) + _l((.82, .5))]],
    "@": [[_arc(.52, .52, .14, .16, 0, 360, 16) + _l((.66, .52)) + _arc(.52, .5, .36, .4, 20, -300)]],
    "$": [[_arc(.5, .32, .26, .18, -20, -270) + _arc(.5, .68, .26, .18, -90, 160), _l((.5, .05), (.5, .95))]],
    "*": [[_l((.5, .15), (.5, .85)), _l((.2, .3), (.8, .7)), _l((.8, .3), (.2, .7))]],
    "star": [[_l((.5, .08), (.62, .4), (.95, .4), (.68, .6), (.8, .92), (.5, .72), (.2, .92), (.32, .6),
                 (.05, .4), (.38, .4), (.5, .08))],
             [_l((.5, .05), (.78, .92), (.05, .38), (.95, .38), (.22, .92), (.5, .05))]],
    "heart": [[_arc(.3, .32, .2, .2, 150, 360) + _arc(.7, .32, .2, .2, 180, 390) + _l((.5, .92), (.12, .42))]],
    "arrow": [[_l((.08, .5), (.9, .5)), _l((.65, .28), (.9, .5), (.65, .72))],
              [_l((.5, .92), (.5, .1)), _l((.25, .35), (.5, .1), (.75, .35))]],
    "check": [[_l((.12, .55), (.4, .85), (.9, .12))]],
    "smiley": [[_arc(.5, .5, .42, .42, 0, 360, 28), _arc(.36, .38, .04, .04, 0, 360, 6),
                _arc(.64, .38, .04, .04, 0, 360, 6), _arc(.5, .55, .22, .18, 20, 160)]],
    "<": [[_l((.8, .15), (.2, .5), (.8, .85))]],
    ">": [[_l((.2, .15), (.8, .5), (.2, .85))]],
    "~": [[_arc(.3, .55, .18, .12, 180, 360) + _arc(.66, .45, .18, .12, 180, 0)]],
    "pi": [[_l((.1, .3), (.9, .28)), _l((.35, .3), (.3, .9)), _l((.68, .3)) + _arc(.78, .85, .1, .08, 180, 60)]],
    "euro": [[_arc(.6, .5, .32, .4, -50, -310), _l((.12, .42), (.65, .42)), _l((.12, .58), (.6, .58))]],
}


def _render_strokes(strokes, rng: np.random.Generator, width_range=(0.03, 0.12)) -> np.ndarray:
    """Pen strokes in a unit box -> float ink 0..1 on a CANVAS x CANVAS canvas, as a hand varies them:
    jitter of every point, rotation, shear, stretch and the pen's width."""
    angle = math.radians(rng.uniform(-15, 15))
    shear = rng.uniform(-0.3, 0.2)
    sx, sy = rng.uniform(0.6, 1.15), rng.uniform(0.75, 1.1)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    transform = rot @ np.array([[sx, shear], [0, sy]])
    scale = CANVAS * 2 * 0.72  # drawn at twice the size, then halved: smooth edges
    width = max(2, int(rng.uniform(*width_range) * scale))
    img = Image.new("L", (CANVAS * 2, CANVAS * 2), 0)
    draw = ImageDraw.Draw(img)
    jitter = rng.uniform(0.005, 0.02)
    for stroke in strokes:
        pts = np.asarray(stroke, np.float64) + rng.normal(0, jitter, (len(stroke), 2))
        pts = (pts - 0.5) @ transform.T * scale + CANVAS
        points = [tuple(p) for p in pts]
        if len(points) == 1:
            points = points * 2
        draw.line(points, fill=255, width=width, joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    return np.asarray(img.resize((CANVAS, CANVAS), Image.BOX), np.float32) / 255.0


def letter(rng: np.random.Generator) -> np.ndarray:
    """A letter or symbol that is no digit, pen-drawn."""
    names = sorted(GLYPHS)
    styles = GLYPHS[names[int(rng.integers(len(names)))]]
    return _render_strokes(styles[int(rng.integers(len(styles)))], rng)


def font_files(fonts_dir: str | None = None) -> list[bytes]:
    """The latin 400 woff2 of each of FONTS: from ``fonts_dir`` (what ``npm pack`` writes), else the
    cache, else the npm registry (downloaded once, checked against the published sha512)."""
    tarballs = npm.fetch(list(FONTS), fonts_dir, flag="--fonts-dir")
    out = []
    for package in FONTS:
        member = f"files/{package.name.split('/')[-1]}-latin-400-normal.woff2"
        out.append(npm.read_members(tarballs[package], [member])[member])
    return out


def font_glyph(char: str, font: bytes, rng: np.random.Generator) -> np.ndarray:
    """``char`` written in ``font`` as float ink 0..1 on a CANVAS x CANVAS canvas: slanted, turned,
    stretched and its strokes thinned or thickened as a hand varies them."""
    face = ImageFont.truetype(io.BytesIO(font), CANVAS * 2)
    img = Image.new("L", (CANVAS * 4, CANVAS * 4), 0)
    ImageDraw.Draw(img).text((CANVAS * 2, CANVAS * 2), char, fill=255, font=face, anchor="mm")
    box = img.getbbox()
    if box is None:
        return np.zeros((CANVAS, CANVAS), np.float32)
    img = img.crop(box)
    shear = rng.uniform(-0.3, 0.2)
    img = img.transform((img.width + int(abs(shear) * img.height), img.height), Image.AFFINE,
                        (1, shear, min(0.0, shear) * img.height, 0, 1, 0), Image.BILINEAR)
    img = img.rotate(float(rng.uniform(-12, 12)), Image.BILINEAR, expand=True)
    width = int(rng.integers(-2, 4)) * 2 + 1  # a finer or a broader pen than the font's
    if width > 1:
        img = img.filter(ImageFilter.MaxFilter(width))
    elif width < 0:
        img = img.filter(ImageFilter.MinFilter(min(5, -width)))
    side = max(img.size)
    scale = CANVAS * 0.8 / side * np.array([rng.uniform(0.7, 1.1), rng.uniform(0.85, 1.1)])
    img = img.resize((max(1, int(img.width * scale[0])), max(1, int(img.height * scale[1]))), Image.BILINEAR)
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    canvas.paste(img, ((CANVAS - img.width) // 2, (CANVAS - img.height) // 2))
    return np.asarray(canvas, np.float32) / 255.0


def scribble(rng: np.random.Generator) -> np.ndarray:
    """A scribble: a random pen path, a zigzag, a spiral, hatching, a crossing or a filled blob."""
    kind = int(rng.integers(6))
    if kind == 0:  # a wandering path that turns often
        n = int(rng.integers(6, 14))
        pts = np.cumsum(rng.normal(0, 0.25, (n, 2)), axis=0)
        pts = (pts - pts.min(0)) / np.maximum(np.ptp(pts, 0), 1e-6) * 0.8 + 0.1
        return _render_strokes([[tuple(p) for p in pts]], rng)
    if kind == 1:  # a zigzag
        n = int(rng.integers(4, 9))
        return _render_strokes([[(0.1 + 0.8 * i / (n - 1), 0.2 if i % 2 else 0.8) for i in range(n)]], rng)
    if kind == 2:  # a row of loops (a spiral is left out: it is a 6, a 9 or a 0 to anyone)
        t = np.linspace(0, rng.uniform(4, 8) * math.pi, 90)
        return _render_strokes([list(zip(0.1 + 0.8 * t / t[-1] + 0.08 * np.cos(t), 0.5 + 0.25 * np.sin(t)))], rng)
    if kind == 3:  # hatching
        n = int(rng.integers(3, 7))
        return _render_strokes([[(0.1 + 0.15 * i, 0.85), (0.35 + 0.15 * i, 0.15)] for i in range(n)], rng,
                               (0.02, 0.06))
    if kind == 4:  # a box drawn round nothing, or a tick box crossed (not a crossed 0, which some write)
        box = [(0.12, 0.15), (0.88, 0.15), (0.88, 0.85), (0.12, 0.85), (0.12, 0.15)]
        return _render_strokes([box] + ([[(0.2, 0.25), (0.8, 0.75)], [(0.8, 0.25), (0.2, 0.75)]]
                                        if rng.random() < 0.5 else []), rng, (0.02, 0.07))
    ink = np.zeros((CANVAS, CANVAS), np.float32)  # a filled blob (a smudge, a thumb)
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS] / CANVAS
    for _ in range(int(rng.integers(2, 5))):
        cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.25)
        ink = np.maximum(ink, ((xx - cx) ** 2 + (yy - cy) ** 2 < r * r).astype(np.float32))
    blob = Image.fromarray((ink * 255).astype(np.uint8), "L").filter(ImageFilter.GaussianBlur(2))
    return np.asarray(blob, np.float32) / 255.0


# Halves that look like no digit: (digit, which half).  The bottom of an 8 or a 6, the top of a
# 9 or an 8 are loops (a 0); a 1 or a 7 cut is still one; those are left out.
HALVES = ((0, "top"), (0, "bottom"), (2, "top"), (2, "bottom"), (3, "top"), (3, "bottom"), (4, "top"),
          (5, "top"), (5, "bottom"), (6, "top"), (9, "bottom"))
# Left and right halves were tried too (what touching digits cut in the wrong place leave): the model
# then refused real narrow digits (the real photos read right fell from 307 to 297 of 311).


def half_digit(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
    """Part of an MNIST training digit that is no digit (HALVES), enlarged as ink on a canvas."""
    digit, part = HALVES[int(rng.integers(len(HALVES)))]
    pool = np.flatnonzero(labels == digit)
    if not len(pool):
        return None
    img = images[pool[int(rng.integers(len(pool)))]].astype(np.float32) / 255.0
    across = part in ("left", "right")
    profile = img.max(axis=0 if across else 1)
    inked = np.flatnonzero(profile > 0.3)
    if len(inked) < 6:
        return None
    cut = int(inked[0] + (inked[-1] - inked[0]) * rng.uniform(0.42, 0.58))
    img = img.copy()
    keep = slice(None, cut) if part in ("top", "left") else slice(cut, None)
    gone = np.ones(28, bool)
    gone[keep] = False
    if across:
        img[:, gone] = 0
    else:
        img[gone] = 0
    return np.asarray(Image.fromarray(img, "F").resize((CANVAS, CANVAS), Image.BICUBIC), np.float32).clip(0, 1)


def paper(rng: np.random.Generator) -> np.ndarray:
    """Gray 0-255: what a camera sees where nothing is written (a shadow's edge, the sheet's edge on
    the desk, a fold, a lone line at a slant no "1" has, specks, the paper's texture)."""
    h, w = int(rng.integers(120, 320)), int(rng.integers(120, 320))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    level = rng.uniform(150, 245)
    grain = np.asarray(Image.fromarray(rng.normal(0, 1, (h // 8 + 2, w // 8 + 2)).astype(np.float32), "F")
                       .resize((w, h), Image.BICUBIC), np.float32)
    page = level + grain * rng.uniform(1, 8) + rng.normal(0, rng.uniform(0.5, 4), (h, w))
    theta = rng.uniform(0, 2 * math.pi)
    c, s = math.cos(theta), math.sin(theta)
    across = (xx - w * rng.uniform(0.2, 0.8)) * c + (yy - h * rng.uniform(0.2, 0.8)) * s
    kind = int(rng.integers(5))
    if kind == 0:  # a shadow's soft edge
        page *= 1 - rng.uniform(0.15, 0.5) / (1 + np.exp(np.clip(-across / rng.uniform(1, 12), -50, 50)))
    elif kind == 1:  # the sheet's edge on a darker desk
        page = np.where(across > 0, page, rng.uniform(30, 140) + grain * rng.uniform(2, 15))
    elif kind == 2:  # a fold: a thin darker crease with a light side
        page -= rng.uniform(10, 40) * np.exp(-(across / rng.uniform(1, 3)) ** 2)
        page += rng.uniform(0, 15) * np.exp(-((across - 4) / 3) ** 2)
    elif kind == 3:  # a lone line, at 35 degrees or more from the vertical
        tilt = math.radians(rng.uniform(35, 90)) * rng.choice([-1, 1])
        c, s = math.cos(tilt), math.sin(tilt)
        dist = (xx - w / 2) * c + (yy - h / 2) * s
        page -= rng.uniform(40, 120) * (np.abs(dist) < rng.uniform(1, 4))
    else:  # specks and dust
        for _ in range(int(rng.integers(1, 6))):
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(1, 4)
            page -= rng.uniform(40, 120) * (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r)
    return np.clip(page, 0, 255)


def _as_picture(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Float ink 0..1 -> a gray picture 0-255: dark ink on paper, or light on dark, with a margin,
    and sometimes as a camera takes it (uneven light, out of focus)."""
    size = int(rng.integers(64, 200))
    margin = int(size * rng.uniform(0.05, 0.3))
    canvas = np.zeros((size + 2 * margin, size + 2 * margin), np.float32)
    canvas[margin:margin + size, margin:margin + size] = np.asarray(
        Image.fromarray(ink, "F").resize((size, size), Image.BILINEAR), np.float32)
    paper_level, ink_level = rng.uniform(150, 255), rng.uniform(0, 110)
    gray = paper_level - canvas * (paper_level - ink_level)
    if rng.random() < 0.4:  # light falling off across the sheet
        yy, xx = np.mgrid[0:canvas.shape[0], 0:canvas.shape[1]] / canvas.shape[0]
        theta = rng.uniform(0, 2 * math.pi)
        gray *= 1 + rng.uniform(-0.3, 0.3) * ((xx - 0.5) * math.cos(theta) + (yy - 0.5) * math.sin(theta))
    if rng.random() < 0.4:  # out of focus
        gray = np.asarray(Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8), "L").filter(
            ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0) * size / 100)), np.float32)
    gray = gray + rng.normal(0, rng.uniform(0, 5), canvas.shape)
    return np.clip(255 - gray if rng.random() < 0.2 else gray, 0, 255)


def font_digits(count: int, seed: int, fonts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """``count`` digits written in the handwriting fonts (a European 1 and 7, open 4s, looped 2s
    that MNIST has few of), drawn as pictures and read back: (N, 28, 28) uint8 and their labels."""
    if not count or not fonts:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
    parts = _in_parallel(_font_digits, [(n, (seed, k), fonts) for k, n in enumerate(_shares(count))])
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def _font_digits(count: int, seed, fonts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    out, labels = [], []
    while len(out) < count and fonts:
        digit = int(rng.integers(10))
        gray = _as_picture(font_glyph(str(digit), fonts[int(rng.integers(len(fonts)))], rng), rng)
        try:
            out.append(preprocess_gray(gray.astype(np.float32), "digit"))
        except ImageError:
            continue
        labels.append(digit)
    if not out:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
    return np.stack(out), np.asarray(labels, np.uint8)


def redrawn(images: np.ndarray, seed: int) -> np.ndarray:
    """MNIST digits re-drawn as pictures and read back by ``preprocess_gray``: (N, 28, 28) uint8.

    Each is enlarged, its strokes made thinner or thicker by where the enlarged
    gray is cut (a fine pen to a marker), put on paper as ``_as_picture`` does, and read; one the
    reading refuses (rare) is kept as it was."""
    if not len(images):
        return images.copy()
    bounds = np.cumsum([0, *_shares(len(images))])
    return np.concatenate(_in_parallel(_redrawn, [(images[a:b], (seed, k)) for k, (a, b) in
                                                  enumerate(zip(bounds, bounds[1:]))]))


def _redrawn(images: np.ndarray, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty_like(images)
    for k, image in enumerate(images):
        big = np.asarray(Image.fromarray(image).resize((CANVAS, CANVAS), Image.BICUBIC), np.float32) / 255.0
        cut = rng.uniform(0.1, 0.65)
        ink = np.clip((big - cut) / (1.0 - cut) * rng.uniform(1.0, 2.0), 0, 1)
        try:
            out[k] = preprocess_gray(_as_picture(ink, rng).astype(np.float32), "digit")
        except ImageError:
            out[k] = image
    return out


def generate(count: int, seed: int, images: np.ndarray | None = None, labels: np.ndarray | None = None,
             kinds=KINDS, fonts: list[bytes] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``count`` inputs of class NOT_A_DIGIT as the edge runtime reads them: (N, 28, 28) uint8 and
    the kind index of each (into KINDS).  ``images``/``labels`` (MNIST training digits) feed the
    halves, ``fonts`` (``font_files``) the font letters; without them, none of those are made.
    Made in chunks, each from its own seed, on every core; the same arguments give the same
    pictures in the same order however the cores are scheduled."""
    if not count:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
    pool = np.random.default_rng(seed).permutation(len(images))[:HALF_POOL] if images is not None else None
    jobs = [(n, (seed, k), None if pool is None else images[pool], None if pool is None else labels[pool], kinds, fonts)
            for k, n in enumerate(_shares(count))]
    parts = _in_parallel(_generate, jobs)
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def _shares(count: int, chunk: int = 500) -> list[int]:
    """``count`` cut into chunks of about ``chunk``."""
    n = max(1, -(-count // chunk))
    return [count // n + (k < count % n) for k in range(n)]


def _in_parallel(function, jobs: list[tuple]) -> list:
    """``function(*job)`` for each job, in order, on every core (fresh processes: the parent may hold
    TensorFlow, which a forked child must not inherit), each read with numpy's pixel operations."""
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers <= 1:
        return [_numpy_only(function, *job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_numpy_only, [function] * len(jobs), *zip(*jobs)))


def _numpy_only(function, *args):
    """``function(*args)`` with edge/imageops on its numpy code even where OpenCV is loaded (TensorFlow
    loads it): the pictures are read as the plain install reads them, the same in every process."""
    allowed, imageops.OPENCV_ALLOWED = imageops.OPENCV_ALLOWED, False
    try:
        return function(*args)
    finally:
        imageops.OPENCV_ALLOWED = allowed


def _generate(count: int, seed, images, labels, kinds, fonts) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    wanted = [k for k in kinds if (k != "halves" or images is not None) and (k != "font letters" or fonts)]
    share = np.array([SHARE[k] for k in wanted])
    out, kind_of = [], []
    attempts = 0
    while len(out) < count and attempts < 20 * count + 100:
        attempts += 1
        kind = wanted[int(rng.choice(len(wanted), p=share / share.sum()))]
        if kind == "paper":
            gray = paper(rng)
        else:
            if kind == "font letters":
                ink = font_glyph(FONT_LETTERS[int(rng.integers(len(FONT_LETTERS)))],
                                 fonts[int(rng.integers(len(fonts)))], rng)
            else:
                ink = letter(rng) if kind == "letters" else scribble(rng) if kind == "scribbles" else \
                    half_digit(rng, images, labels)
            if ink is None:
                continue
            gray = _as_picture(ink, rng)
        try:
            pixels = preprocess_gray(gray.astype(np.float32), "negative")
        except ImageError:  # the reading refuses it before the model sees it
            continue
        out.append(pixels)
        kind_of.append(KINDS.index(kind))
    if not out:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
    return np.stack(out), np.asarray(kind_of, np.int64)
