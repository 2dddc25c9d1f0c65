"""Text of document attachments: PDF (pypdf), DOCX (python-docx), XLSX (openpyxl), and the
members of a ZIP archive one level deep, within size, page and time limits.

An attachment that cannot be read (password-protected, corrupt, over a limit) becomes an
`attachment.unreadable` finding (detail: the format and why, never the content), so the rules
can hold mail whose attachments could not be inspected.

Settings (`plugins.settings.documents`), all optional:

    max_bytes: 10485760        # attachment (or ZIP member) size read at all
    max_text_chars: 2000000    # extracted text per attachment
    max_pages: 500             # PDF pages / XLSX sheets x rows cap (rows: 20000 per sheet)
    max_seconds: 3.0           # wall-clock per attachment; past it the text so far and a finding
    max_zip_members: 50
    max_zip_ratio: 100         # a member expanding more than this is a zip bomb: unreadable
"""

from __future__ import annotations

import io
import logging
import time
import zipfile
from dataclasses import dataclass
from typing import Any

from outguard.checks import Attachment, Extracted, Finding, StartupContext, hookimpl

log = logging.getLogger("outguard.checks.documents")
# pypdf logs structural warnings about broken files; they say nothing the finding does not.
logging.getLogger("pypdf").setLevel(logging.ERROR)

PDF_TYPES = {"application/pdf", "application/x-pdf"}
DOCX_TYPES = {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
XLSX_TYPES = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
ZIP_TYPES = {"application/zip", "application/x-zip-compressed", "application/x-zip"}
TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".log", ".md", ".htm", ".html", ".xml", ".json")


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 10 * 1024 * 1024
    max_text_chars: int = 2_000_000
    max_pages: int = 500
    max_rows: int = 20_000
    max_seconds: float = 3.0
    max_zip_members: int = 50
    max_zip_ratio: int = 100

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Limits:
        """Settings are validated against `DocumentsCheck.settings_schema` before this."""
        return cls(**{k: type(getattr(cls(), k))(v) for k, v in settings.items()})


def _limits_schema() -> dict[str, Any]:
    props = {name: {"type": "integer" if isinstance(value, int) else "number", "exclusiveMinimum": 0}
             for name, value in vars(Limits()).items()}
    return {"type": "object", "additionalProperties": False, "properties": props}


class Unreadable(Exception):
    """Carries a short, content-free reason."""


def kind_of(name: str, ctype: str, data: bytes) -> str | None:
    name = name.lower()
    if ctype in PDF_TYPES or name.endswith(".pdf") or data[:5] == b"%PDF-":
        return "pdf"
    if ctype in DOCX_TYPES or name.endswith((".docx", ".docm")):
        return "docx"
    if ctype in XLSX_TYPES or name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if ctype in ZIP_TYPES or name.endswith(".zip"):
        return "zip"
    return None


class _PastDeadline(Exception):
    """The host's deadline passed mid-document (not an OSError: the readers catch those)."""


class _Clock:
    """`max_seconds` from now, or the host's deadline for the call if that comes first
    (past it the host has given up on the call: reading on would only hold a thread)."""

    def __init__(self, seconds: float, until: float | None = None) -> None:
        self.own = time.monotonic() + seconds
        self.host = until if until is not None else float("inf")

    def check(self) -> None:
        now = time.monotonic()
        if now > self.host:  # the check's budget: the host reports scan.budget_exceeded (held)
            raise _PastDeadline()
        if now > self.own:   # the attachment's own limit (max_seconds): unreadable, for the rules
            raise Unreadable("time limit")


class _Text:
    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit
        self.full = False

    def add(self, text: str) -> None:
        if self.full or not text:
            return
        room = self.limit - self.size
        if len(text) > room:
            text = text[:room]
            self.full = True
        self.parts.append(text)
        self.size += len(text)

    def value(self) -> str:
        return "\n".join(self.parts)


def _pdf(data: bytes, lim: Limits, clock: _Clock, out: _Text) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):   # an empty user password opens "owner-only" PDFs
                    raise Unreadable("password-protected")
            except Unreadable:
                raise
            except Exception:
                raise Unreadable("password-protected") from None
        pages = reader.pages
        for i, page in enumerate(pages):
            if i >= lim.max_pages:
                raise Unreadable(f"more than {lim.max_pages} pages")
            clock.check()
            out.add(page.extract_text() or "")
            if out.full:
                break
    except Unreadable:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
            AssertionError, OSError):
        raise Unreadable("corrupt") from None


def _docx(data: bytes, lim: Limits, clock: _Clock, out: _Text) -> None:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Unreadable("corrupt or encrypted") from None
    except Exception:
        raise Unreadable("corrupt") from None
    for n, para in enumerate(document.paragraphs):
        if n % 500 == 0:
            clock.check()
        out.add(para.text)
        if out.full:
            return
    for table in document.tables:
        clock.check()
        for row in table.rows:
            out.add("\t".join(cell.text for cell in row.cells))
            if out.full:
                return


def _xlsx(data: bytes, lim: Limits, clock: _Clock, out: _Text) -> None:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except zipfile.BadZipFile:
        raise Unreadable("corrupt or encrypted") from None
    except Exception:
        raise Unreadable("corrupt") from None
    try:
        for sheet in book.worksheets:
            for n, row in enumerate(sheet.iter_rows(values_only=True)):
                if n >= lim.max_rows:
                    raise Unreadable(f"more than {lim.max_rows} rows")
                if n % 500 == 0:
                    clock.check()
                out.add("\t".join("" if c is None else str(c) for c in row))
                if out.full:
                    return
    finally:
        book.close()


def _zip(data: bytes, lim: Limits, clock: _Clock, out: _Text) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Unreadable("corrupt") from None
    if len(members) > lim.max_zip_members:
        raise Unreadable(f"more than {lim.max_zip_members} members")
    for info in members:
        clock.check()
        if info.flag_bits & 0x1:
            raise Unreadable("password-protected")
        if info.file_size > lim.max_bytes:
            raise Unreadable("member over the size limit")
        if info.compress_size and info.file_size / max(info.compress_size, 1) > lim.max_zip_ratio:
            raise Unreadable("compression ratio of a zip bomb")
        try:
            with archive.open(info) as fh:
                member = fh.read(lim.max_bytes + 1)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError):
            raise Unreadable("corrupt member") from None
        if len(member) > lim.max_bytes:
            raise Unreadable("member over the size limit")
        kind = kind_of(info.filename, "", member)
        if kind == "zip":
            raise Unreadable("nested archive")   # one level deep only
        if kind is not None:
            _extract(kind, member, lim, clock, out)
        elif info.filename.lower().endswith(TEXT_SUFFIXES):
            if b"\x00" in member[:4096]:
                continue
            out.add(member.decode("utf-8", errors="replace"))
        out.add(f"\n{info.filename}\n")
        if out.full:
            return


_EXTRACTORS = {"pdf": _pdf, "docx": _docx, "xlsx": _xlsx, "zip": _zip}


def _extract(kind: str, data: bytes, lim: Limits, clock: _Clock, out: _Text) -> None:
    _EXTRACTORS[kind](data, lim, clock, out)


def extract(attachment: Attachment, lim: Limits = Limits(),  # noqa: B008 (frozen)
            deadline: float | None = None) -> tuple[str | None, str | None]:
    """(text, None) for a document it understands, (partial text or None, reason) when it
    cannot read it, (None, None) for a format it does not handle. Reads for `max_seconds`
    at most, and never past `deadline` (the host's, for this call)."""
    kind = kind_of(attachment.filename or "", attachment.content_type, attachment.data[:8])
    if kind is None:
        return None, None
    if attachment.truncated or len(attachment.data) > lim.max_bytes:
        return None, f"{kind.upper()} over the size limit"
    out = _Text(lim.max_text_chars)
    try:
        _extract(kind, attachment.data, lim, _Clock(lim.max_seconds, deadline), out)
    except Unreadable as exc:
        return (out.value() or None), f"{kind.upper()} {exc}"
    except _PastDeadline:
        raise TimeoutError("documents: deadline") from None
    except MemoryError:
        return None, f"{kind.upper()} too large to read"
    except RecursionError:
        return None, f"{kind.upper()} corrupt"
    if out.full:
        return out.value(), f"{kind.upper()} text past {lim.max_text_chars} characters"
    return out.value(), None


class DocumentsCheck:
    """Reads PDF, DOCX, XLSX and ZIP attachments for the other checks."""

    emits = ("attachment.unreadable", "scan.truncated")
    settings_schema = _limits_schema()

    def __init__(self) -> None:
        self.limits = Limits()

    @hookimpl
    def outguard_startup(self, context: StartupContext) -> None:
        self.limits = Limits.from_settings(context.settings)

    @hookimpl
    def outguard_extract_text(self, attachment: Attachment, deadline: float | None) -> str | Extracted | None:
        text, reason = extract(attachment, self.limits, deadline)
        if reason is None:
            return text
        where = (f"attachment:{attachment.label}",)
        if " text past " in reason:
            finding = Finding("scan.truncated", where=where, detail=f"{reason}, the rest not inspected")
        else:
            finding = Finding("attachment.unreadable", confidence=1.0, where=where, detail=reason)
        return Extracted(text or "", (finding,))   # "" claims the attachment so no other extractor guesses at it
