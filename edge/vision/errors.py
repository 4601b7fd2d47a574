"""What reading an image can raise: one family, so that every command answers it in one line."""

from __future__ import annotations

from digitlite.edge.util.errors import DigitliteError


class ImageError(DigitliteError):
    """An image that cannot be read or holds no digit."""


class NoDigit(ImageError):
    """An image that was read but holds no digit (blank paper, specks, something too small)."""


class TooSmall(ImageError):
    """An image whose marks may be a digit, too small to read: the answer is to crop closer."""


class SeveralDigits(ImageError):
    """An image asked for one digit that holds several side by side (a number)."""

    def __init__(self, message: str, count: int):
        super().__init__(message)
        self.count = count
