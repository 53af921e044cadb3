"""Finding where a CSV model goes wrong, for error messages: the line and column of the
first undecodable byte or of a cell over the csv module's field limit, and the fix."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

# Lines read at most while looking for the bad spot (the error message then says less).
MAX_SCAN_LINES = 10_000_000


def _ascii_lines(encoding: str) -> bool:
    """Whether lines of this encoding can be split on the byte b"\\n"."""
    try:
        if codecs.lookup(encoding).name == "utf-8-sig":
            return True  # a byte-order mark, then UTF-8
        return "\n,".encode(encoding) == b"\n,"
    except (LookupError, UnicodeError):
        return False


def locate_undecodable(path: Path, encoding: str) -> tuple[int, int] | None:
    """(line, column) of the first byte that ``encoding`` cannot decode (both 1-based)."""
    if not _ascii_lines(encoding):
        return None
    with path.open("rb") as fh:
        decoder_name = encoding
        for n, raw in enumerate(fh, start=1):
            if n > MAX_SCAN_LINES:
                return None
            try:
                raw.decode(decoder_name)
            except UnicodeDecodeError as exc:
                before = raw[: exc.start].decode(decoder_name, errors="replace")
                return n, _field_index(before)
            if decoder_name.replace("_", "-").lower() == "utf-8-sig":
                decoder_name = "utf-8"  # a byte-order mark only opens the first line
    return None


def locate_long_field(path: Path, encoding: str, lines_before: int) -> tuple[int, int] | None:
    """(line, column) of the first cell longer than the field limit, in the record that
    starts after ``lines_before`` physical lines."""
    limit = csv.field_size_limit()
    with path.open(newline="", encoding=encoding, errors="replace") as fh:
        for _ in range(lines_before):
            if not fh.readline():
                return None
        line = lines_before + 1
        column, length, quoted, prev = 1, 0, False, ""
        while True:
            chunk = fh.read(io.DEFAULT_BUFFER_SIZE)
            if not chunk:
                return None
            for ch in chunk:
                if ch == '"':
                    quoted = not quoted
                elif ch == "," and not quoted:
                    column, length = column + 1, 0
                elif ch in "\r\n" and not quoted:
                    if not (ch == "\n" and prev == "\r"):
                        return None  # the record ended without a long cell
                else:
                    length += 1
                    if length > limit:
                        return line, column
                    if ch == "\n":
                        line += 1
                prev = ch


def _field_index(line_prefix: str) -> int:
    """The 1-based column the end of ``line_prefix`` falls in (commas outside quotes)."""
    quoted, column = False, 1
    for ch in line_prefix:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            column += 1
    return column


def header_of(path: Path, encoding: str) -> list[str]:
    """The header row, read leniently (undecodable bytes replaced), for naming columns."""
    with path.open(newline="", encoding=encoding, errors="replace") as fh:
        return next(csv.reader([fh.readline()]), [])


def describe_place(found: tuple[int, int] | None, header: list[str] | None) -> str:
    if found is None:
        return "position not found"
    line, column = found
    name = ""
    if header and 0 < column <= len(header):
        name = f" ({header[column - 1]!r})"
    row = f", data row {line - 1}" if line > 1 else " (the header)"
    return f"line {line}{row}, column {column}{name}"


def encoding_hint(path: Path, configured: str | None) -> str:
    """The fix for a file that is not in the encoding it is read with."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        guess = "this file starts with a UTF-16 byte-order mark: set encoding = 'utf-16'"
    else:
        guess = (
            "if it was saved as Latin-1 / Windows-1252 (Excel's 'CSV'), set "
            "encoding = 'cp1252' (or 'latin-1'); UTF-16 files: encoding = 'utf-16'"
        )
    now = f"it is read as {configured!r}" if configured else "it is read as UTF-8 by default"
    return (
        f"Set the model's encoding, e.g. model = {{ csv = '…', encoding = '…' }} ({now}); {guess}."
    )
