"""Reading a Keras model config within bounds: a ``.keras`` zip, a folder, a JSON file or a dict.

A ``.keras`` file is a zip a stranger may have written: its ``config.json`` is decompressed in
chunks and the reading stops as soon as the bytes pass :data:`~netsize._limits.MAX_CONFIG_BYTES`
(the size the zip's header declares is not trusted: a 611 KB zip can inflate to 600 MiB). A
member that is not a regular file, a zip with more than :data:`MAX_ZIP_MEMBERS` members, a
path that is a FIFO or a device, JSON nested past :data:`~netsize._limits.MAX_DEPTH` or with
an integer literal past :data:`~netsize._limits.MAX_INT_DIGITS` digits: each is one
:class:`~netsize.NetsizeError` naming the file and the bound.
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from pathlib import Path
from typing import Any

from netsize._errors import NetsizeError
from netsize._limits import MAX_CONFIG_BYTES, parse_json, refuse_special_file

__all__ = ["MAX_ZIP_MEMBERS", "load_config"]

#: Members a ``.keras`` zip may hold (Keras writes three: config.json, metadata.json and
#: model.weights.h5); more is not a model Keras saved.
MAX_ZIP_MEMBERS = 1_000
_CHUNK_BYTES = 64 * 1024


def load_config(source: Any) -> dict[str, Any]:
    """The model config from a ``.keras`` zip, a folder holding ``config.json``, a JSON file
    (``model.to_json()``) or an already parsed dict, read within the bounds above."""
    if isinstance(source, dict):
        return source
    if not isinstance(source, str | os.PathLike):
        raise NetsizeError(f"a Keras model is a .keras file, a JSON config file or its dict (got a "
                           f"{type(source).__name__})")
    path = Path(source)
    if _is_dir(path):
        path = path / "config.json"
    _check_regular(path)
    raw = _zip_member(path, "config.json") if _is_zip(path) else _file_bytes(path)
    data = _parse(raw, str(source))
    if not isinstance(data, dict) or "class_name" not in data:
        raise NetsizeError(f"{source}: a Keras model config is a JSON object with 'class_name'")
    return data


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _check_regular(path: Path) -> None:
    """Refuse a missing path or one that is not a regular file before anything opens it
    (opening a FIFO blocks until a writer comes): netsize._limits' one rule."""
    refuse_special_file(path, "Keras model")
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise NetsizeError(f"Keras model file not found: {path}") from None
    except OSError as err:
        raise NetsizeError(f"{path}: cannot read the Keras model ({err.strerror or err})") from None
    if not stat.S_ISREG(mode):
        raise NetsizeError(f"{path}: not a regular file; give a .keras file or a JSON config")


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError as err:
        raise NetsizeError(f"{path}: cannot read the Keras model ({err.strerror or err})") from None


def _file_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise NetsizeError(f"{path}: cannot read the Keras model ({err.strerror or err})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise NetsizeError(f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes, the most a Keras config may have")
    return raw


def _zip_member(path: Path, member: str) -> bytes:
    """``member`` of the zip at ``path``, decompressed at most to the config bound."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise NetsizeError(f"{path}: {len(infos):,} zip members; a .keras file Keras wrote has 3 "
                                   f"(netsize reads at most {MAX_ZIP_MEMBERS:,})")
            found = [i for i in infos if i.filename == member]
            if not found:
                names = sorted(i.filename for i in infos)[:10]
                raise NetsizeError(f"{path}: a .keras file must be a zip holding {member} (found {names})")
            info = found[-1]
            kind = stat.S_IFMT(info.external_attr >> 16)
            if info.is_dir() or kind not in (0, stat.S_IFREG):  # 0: written without Unix modes
                raise NetsizeError(f"{path}: {member} in the zip is not a regular file (a link or a folder)")
            if info.file_size > MAX_CONFIG_BYTES:
                raise NetsizeError(f"{path}: {member} declares {info.file_size:,} bytes; a Keras config may have "
                                   f"at most {MAX_CONFIG_BYTES:,}")
            chunks: list[bytes] = []
            total = 0
            with z.open(info) as f:
                while True:
                    # the header's size may lie: the bound is checked on what decompression yields
                    chunk = f.read(min(_CHUNK_BYTES, MAX_CONFIG_BYTES + 1 - total))
                    if not chunk:
                        break
                    total += len(chunk)
                    chunks.append(chunk)
                    if total > MAX_CONFIG_BYTES:
                        raise NetsizeError(f"{path}: {member} inflates past {MAX_CONFIG_BYTES:,} bytes, the most "
                                           "a Keras config may have")
            return b"".join(chunks)
    except NetsizeError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError,
            OSError) as err:
        # a damaged, encrypted or truncated archive, or a compression method zipfile lacks
        raise NetsizeError(f"{path}: not a readable .keras zip ({err})") from None


def _parse(raw: bytes, where: str) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NetsizeError(f"{where}: not a Keras model config (not UTF-8 text)") from None
    return parse_json(text, where)
