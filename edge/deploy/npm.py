"""A pinned npm package, fetched once and checked against its published integrity hash.

The browser export (``digitlite export --target web``) ships LiteRT.js, which is published on
npm.  Nothing of it is committed to this repository or packed in the wheel: the tarball is
downloaded from the npm registry the first time, verified against the ``sha512`` integrity the
registry publishes for that version, and kept in the user cache (``~/.cache/digitlite/npm``).
An offline machine names a folder holding the tarballs instead (what ``npm pack`` writes).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from digitlite.edge.util import atomic
from digitlite.edge.util.cache import user_cache
from digitlite.edge.util.errors import DigitliteError

REGISTRY = "https://registry.npmjs.org"
REGISTRY_ENV = "DIGITLITE_NPM_REGISTRY"  # another registry (a mirror); the integrity is checked all the same
MAX_TARBALL = 64 * 1024 * 1024


@dataclass(frozen=True)
class Package:
    """One version of an npm package and the integrity the registry publishes for it."""

    name: str  # e.g. @litertjs/core
    version: str
    integrity: str  # "sha512-<base64>", as in the registry's dist.integrity and package-lock.json

    @property
    def spec(self) -> str:
        """``name@version``, as npm takes it."""
        return f"{self.name}@{self.version}"

    @property
    def pack_name(self) -> str:
        """The file ``npm pack name@version`` writes (@scope/name -> scope-name-version.tgz)."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    def url(self, registry: str) -> str:
        """The tarball's address on ``registry``."""
        return f"{registry.rstrip('/')}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"

    def matches(self, data: bytes) -> bool:
        """True when ``data`` is the published tarball (its sha512 is the integrity's)."""
        algorithm, _, expected = self.integrity.partition("-")
        return base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == expected


def fetch(packages: list[Package], local_dir: str | os.PathLike | None = None,
          flag: str = "--runtime-dir") -> dict[Package, bytes]:
    """Each package's verified tarball: from ``local_dir`` when given, else the cache, else the registry.

    One-line DigitliteError when a tarball is missing, is not the published one, or cannot be
    downloaded (saying how to bring it to an offline machine: the folder goes to ``flag``).
    """
    hint = (f"on a machine with network, run `npm pack {' '.join(p.spec for p in packages)}` (or copy "
            f"{user_cache('npm')} from a machine where this ran) and pass the folder holding the tarballs with "
            f"{flag}")
    return {package: _local(package, Path(local_dir), hint, flag) if local_dir
            else _cached_or_downloaded(package, hint) for package in packages}


def _local(package: Package, folder: Path, hint: str, flag: str) -> bytes:
    if not folder.is_dir():
        raise DigitliteError(f"{folder}: no such folder ({flag})")
    for name in (package.pack_name, package.url(REGISTRY).rsplit("/", 1)[-1]):
        path = folder / name
        if path.is_file():
            try:
                data = path.read_bytes()
            except OSError as e:
                raise DigitliteError(f"{path}: cannot read ({e.strerror or e})") from None
            if not package.matches(data):
                raise DigitliteError(f"{path}: not {package.spec} as published on npm (its sha512 differs from "
                                     f"{package.integrity[:22]}...): download it again")
            return data
    raise DigitliteError(f"{folder}: no {package.pack_name} in it; {hint}")


def _cached_or_downloaded(package: Package, hint: str) -> bytes:
    cached = user_cache("npm") / package.pack_name
    try:
        data = cached.read_bytes()
        if package.matches(data):
            return data
    except OSError:
        pass
    registry = os.environ.get(REGISTRY_ENV) or REGISTRY
    url = package.url(registry)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read(MAX_TARBALL + 1)
    except (OSError, ValueError) as e:
        raise DigitliteError(f"cannot download {package.spec} from {url} ({getattr(e, 'reason', None) or e}); "
                             f"offline? {hint}") from None
    if not package.matches(data):
        raise DigitliteError(f"{url}: the download is not {package.spec} as published (its sha512 differs from the "
                             "pinned integrity); nothing was used")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(cached, data)
    except OSError:
        pass  # a read-only cache only costs the next export a download
    return data


def save(packages: list[Package], folder: str | os.PathLike, flag: str = "--runtime-dir") -> list[Path]:
    """Put each package's verified tarball in ``folder`` under ``npm pack``'s name (what ``flag``
    takes on an offline machine); one already there and whole is kept."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for package in packages:
        path = folder / package.pack_name
        if not (path.is_file() and package.matches(path.read_bytes())):
            atomic.write_bytes(path, fetch([package], flag=flag)[package])
        paths.append(path)
    return paths


def read_members(tarball: bytes, names: list[str]) -> dict[str, bytes]:
    """The files ``names`` (paths inside the package, e.g. ``dist/index.js``) of an npm tarball."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        out = {}
        for name in names:
            try:
                member = tar.getmember(f"package/{name}")
            except KeyError:
                raise DigitliteError(f"the npm tarball has no {name}: not the package this export expects") from None
            handle = tar.extractfile(member)
            if handle is None:
                raise DigitliteError(f"the npm tarball's {name} is not a file")
            out[name] = handle.read()
    return out
