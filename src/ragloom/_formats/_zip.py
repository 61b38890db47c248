"""A guard for zip containers (docx, xlsx, pptx, odt, epub) before a library opens them.

Declared sizes bound what Python's `zipfile` will inflate (it stops at the declared
size and fails the CRC check), so checking them before parsing bounds the work: a zip
bomb disguised as `.docx` is refused with a reason instead of filling memory.

Example:
    >>> import io, zipfile
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("a.xml", "<a/>")
    >>> check_zip(buf.getvalue(), "DOCX").namelist()
    ['a.xml']

"""

from __future__ import annotations

import io
import zipfile

from ragloom._formats._base import LoadError

__all__ = ["MAX_MEMBER_BYTES", "MAX_RATIO", "MAX_TOTAL_BYTES", "check_zip", "encrypted_office"]

MAX_TOTAL_BYTES = 1024 * 1024 * 1024
"""Largest total decompressed size accepted (1 GiB)."""
MAX_MEMBER_BYTES = 512 * 1024 * 1024
"""Largest decompressed size of one member (512 MiB)."""
MAX_RATIO = 200
"""Largest compression ratio of a member bigger than 8 MiB: text XML rarely passes 20."""
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def encrypted_office(data: bytes) -> bool:
    r"""Whether the bytes are an OLE compound file: an encrypted (or pre-2007) Office file.

    Example:
        >>> encrypted_office(b"PK\x03\x04"), encrypted_office(_OLE + b"...")
        (False, True)

    """
    return data.startswith(_OLE)


def check_zip(data: bytes, kind: str) -> zipfile.ZipFile:
    """Open `data` as a zip, refusing corrupt, encrypted or bomb-like containers.

    Raises:
        LoadError: With the reason (`kind` names the format, e.g. "DOCX").

    """
    if encrypted_office(data):
        raise LoadError(f"password-protected or legacy binary {kind} file (an OLE container,"
                        " not a zip): remove the password, or save it in the current format")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise LoadError(f"corrupt {kind} file (not a valid zip container: {exc})") from None
    total = 0
    for info in members:
        total += info.file_size
        if info.flag_bits & 0x1:
            raise LoadError(f"encrypted {kind} file: remove the password first")
        ratio = info.file_size / max(info.compress_size, 1)
        if (info.file_size > MAX_MEMBER_BYTES
                or (info.file_size > 8 * 1024 * 1024 and ratio > MAX_RATIO)):
            raise LoadError(
                f"refused: {kind} member {info.filename!r} would inflate to"
                f" {info.file_size / 2**20:.0f} MiB ({ratio:.0f}x its compressed size),"
                " which looks like a zip bomb")
    if total > MAX_TOTAL_BYTES:
        raise LoadError(f"refused: {kind} file would inflate to {total / 2**20:.0f} MiB"
                        f" (limit {MAX_TOTAL_BYTES / 2**20:.0f} MiB)")
    return archive
