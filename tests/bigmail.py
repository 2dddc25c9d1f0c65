"""Big messages for the overrun tests (issue 12): a census of patients (CSV, HTML or PDF
attachment, or the body itself), the same bulk of ordinary prose, a 5 MB Subject. Made-up
people; one planted row, so a test can look for its values wherever outguard writes."""

from __future__ import annotations

import base64
import itertools

FIRST = ("Jane", "Omar", "Lucia", "Wei", "Amara", "Tomasz", "Ingrid", "Ravi", "Chloe", "Mateo")
LAST = ("Roe", "Haddad", "Ferreira", "Zhang", "Okafor", "Nowak", "Lund", "Iyer", "Martin", "Alvarez")
DIAGNOSES = ("type 2 diabetes mellitus", "essential hypertension", "asthma", "major depressive disorder",
             "chronic kidney disease stage 3", "atrial fibrillation", "hypothyroidism", "COPD")
DRUGS = ("metformin 500 mg", "lisinopril 10 mg", "albuterol inhaler", "sertraline 50 mg", "apixaban 5 mg",
         "levothyroxine 75 mcg", "tiotropium 18 mcg", "atorvastatin 20 mg")
PLANTED = {"name": "Philippa Quennell", "dob": "03/17/1958", "mrn": "MRN-739201"}
COLUMNS = ("name", "date_of_birth", "mrn", "diagnosis", "medication")
MB = 1_000_000
PROSE = "The parking lot on the east side will be resurfaced next week; please use the north entrance.\r\n"


def census_rows() -> itertools.chain[tuple[str, ...]]:
    """The planted patient, then made-up ones without end."""
    planted = (PLANTED["name"], PLANTED["dob"], PLANTED["mrn"], "asthma", "albuterol inhaler")
    return itertools.chain([planted], ((f"{FIRST[i % 10]} {LAST[i // 10 % 10]}",
                                        f"{1 + i % 12:02d}/{1 + i % 28:02d}/{1930 + i % 70}",
                                        f"MRN-{100000 + i % 900000}", DIAGNOSES[i % 8], DRUGS[i // 8 % 8])
                                       for i in itertools.count()))


def census_csv(size: int = 10 * MB) -> bytes:
    """A header line and patient rows, up to `size` bytes."""
    out, total = [",".join(COLUMNS) + "\r\n"], len(",".join(COLUMNS)) + 2
    for row in census_rows():
        line = ",".join(row) + "\r\n"
        if total + len(line) > size:
            break
        out.append(line)
        total += len(line)
    return "".join(out).encode()


def census_html(size: int = 10 * MB) -> bytes:
    """The census as one HTML table, up to `size` bytes."""
    head = "<html><body><table><tr>" + "".join(f"<th>{c}</th>" for c in COLUMNS) + "</tr>\r\n"
    out, total, tail = [head], len(head), "</table></body></html>\r\n"
    for row in census_rows():
        line = "<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>\r\n"
        if total + len(line) + len(tail) > size:
            break
        out.append(line)
        total += len(line)
    return ("".join(out) + tail).encode()


def message(marker: str, parts: list[tuple[str, str | None, bytes]], subject: bytes = b"monthly census",
            sender: str = "nurse@clinic.example", recipients: tuple[str, ...] = ("bob@partner.example",)) -> bytes:
    """A MIME message: `parts` are (content type, attachment file name or None, bytes); the
    first part also carries `marker`, so a sink can find the message."""
    head = (f"From: <{sender}>\r\nTo: {', '.join(f'<{r}>' for r in recipients[:3])}\r\n"
            f"Message-ID: <{marker}@clinic.example>\r\n").encode() + b"Subject: " + subject + b"\r\nMIME-Version: 1.0\r\n"
    body = [b"Content-Type: multipart/mixed; boundary=\"big-b\"\r\n\r\n"]
    for n, (ctype, filename, data) in enumerate(parts):
        body.append(f"--big-b\r\nContent-Type: {ctype}; charset=utf-8\r\n".encode())
        if filename:
            body.append(f"Content-Disposition: attachment; filename={filename}\r\n".encode())
        body.append(b"Content-Transfer-Encoding: base64\r\n\r\n")
        text = data + (f"\r\n{marker}\r\n".encode() if n == 0 else b"")
        body.append(base64.encodebytes(text).replace(b"\n", b"\r\n"))
    body.append(b"--big-b--\r\n")
    return head + b"".join(body)


NOTE = ("text/plain", None, b"The census for this month is attached.")


def census_message(marker: str, size: int = 10 * MB) -> bytes:
    """A short cover note and `size` bytes of census as a CSV attachment."""
    return message(marker, [NOTE, ("text/csv", "census.csv", census_csv(size))])


def dense_body_message(marker: str, size: int = 10 * MB) -> bytes:
    """The census pasted into the body: what spam, bulk and phi read."""
    return message(marker, [("text/plain", None, census_csv(size))])


def html_census_message(marker: str, size: int = 10 * MB) -> bytes:
    return message(marker, [NOTE, ("text/html", "census.html", census_html(size))])


def plain_message(marker: str, size: int = 10 * MB) -> bytes:
    """`size` bytes of ordinary prose in the body: nothing to find, everything to read."""
    return message(marker, [("text/plain", None, PROSE.encode() * (size // len(PROSE)))],
                   subject=b"facilities update")


def big_subject(size: int = 5 * MB) -> bytes:
    """A Subject value of `size` bytes: census rows ("patient NAME, DOB ..., MRN-..., asthma,
    albuterol inhaler"), one per folded line (no line over 100 bytes)."""
    lines, total = [], 0
    for row in census_rows():
        if total >= size:
            break
        line = f"patient {row[0]}, DOB {row[1]}, {row[2]}, {row[3]}, {row[4]};".encode()
        lines.append(line)
        total += len(line) + 3
    return b"\r\n ".join(lines)


def big_subject_message(marker: str, size: int = 5 * MB) -> bytes:
    return message(marker, [("text/plain", None, b"See the subject.")], subject=big_subject(size))
