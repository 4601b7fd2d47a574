"""Keep a long run's memory where its largest image put it, not growing from file to file.

glibc's malloc serves a large block (a decoded photo, its float copy) from mmap, and returns it
to the system when freed; but each time such a block is freed it raises the size above which it
uses mmap, up to 32 MB, so that later photos are served from the heap instead, which fragments
and is rarely given back: `digitlite classify` of a few hundred photos grew from 58 MB to 128 MB.
Fixing the threshold (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD) stops that.  At 4 MB a 640x480 photo's
arrays (1.2 MB as float32) are reused from the heap, not mapped and faulted in afresh for each file:
measured on 300 noisy 640x480 JPEGs, 4.7 ms a file at 256 KB, 3.1 ms at 4 MB, with the same peak
(62 MB; 61 MB on a folder that mixes in 12-megapixel photos).  Elsewhere than glibc (musl, macOS,
Windows) this does nothing.

What the heap still holds free between the pieces in use is given back by ``give_back`` (glibc's
malloc_trim): over the 311 real photos of ../shared/real_photos, `digitlite classify` peaked at
81 MB with the thresholds alone, 76 MB given back after every 64 files (0.5 ms each time).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD = 4 * 1024 * 1024  # blocks above this come from mmap and go back when freed


@functools.lru_cache(maxsize=1)
def _glibc():
    """glibc's mallopt and malloc_trim, or None where the C library is another."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt, trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return mallopt, trim


def keep_small() -> bool:
    """Fix glibc's mmap and trim thresholds for this process; True when it could."""
    found = _glibc()
    if found is None:
        return False
    mallopt = found[0]
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD))


def give_back() -> bool:
    """Return the heap's free pages to the system (glibc's malloc_trim); True when any went back."""
    found = _glibc()
    return bool(found[1](0)) if found is not None else False
