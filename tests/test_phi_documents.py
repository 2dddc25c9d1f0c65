"""Attachment text extraction (outguard_plugins.documents): PDF, DOCX, XLSX, ZIP one level
deep; unreadable attachments become findings; limits hold on big input."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import textwrap
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from outguard.core.message import Attachment
from outguard_plugins import documents

HERE = Path(__file__).resolve().parent


def make_pdf(pages: list[str]) -> bytes:
    """A minimal, valid PDF with one text line per page (Helvetica), built by hand."""
    objects: list[bytes] = []
    n_pages = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Count {n_pages} /Kids [{kids}] >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        lines = text.split("\n")
        ops = ["BT /F1 10 Tf 40 800 Td 12 TL"]
        for line in lines:
            esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({esc}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
                       f"/Contents {5 + 2 * i} 0 R >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % num + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def make_encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def make_xlsx(rows: list[list[object]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def make_zip(members: dict[str, bytes], encrypted_flag: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    data = buf.getvalue()
    if encrypted_flag:   # mark every entry as encrypted (general purpose bit 0), as a zip tool does
        data = data.replace(b"PK\x03\x04\x14\x00\x00\x00", b"PK\x03\x04\x14\x00\x01\x00")
        data = data.replace(b"PK\x01\x02\x14\x03\x14\x00\x00\x00", b"PK\x01\x02\x14\x03\x14\x00\x01\x00")
    return data


def message_with(attachments: list[tuple[str, str, bytes]], body: str = "See attached.", subject: str = "files",
                 to: str = "office@partner.example") -> bytes:
    msg = EmailMessage()
    msg["From"] = "staff@clinic.example"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    for name, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def att(name: str, ctype: str, data: bytes) -> Attachment:
    return Attachment(name, ctype, data, "1.2")


def test_pdf_text_is_extracted() -> None:
    text, reason = documents.extract(att("r.pdf", "application/pdf", make_pdf(["Patient: Jane Roe", "HbA1c 9.1"])))
    assert reason is None
    assert "Jane Roe" in text and "HbA1c 9.1" in text


def test_docx_paragraphs_and_tables() -> None:
    data = make_docx(["Referral for John Smith"], [["MRN", "4820193"], ["Dx", "E11.9"]])
    text, reason = documents.extract(att("r.docx", "application/octet-stream", data))
    assert reason is None
    assert "Referral for John Smith" in text and "4820193" in text and "E11.9" in text


def test_xlsx_cells() -> None:
    data = make_xlsx([["name", "ssn"], ["Jane Roe", "536-90-4399"], ["John Smith", 12.5]])
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    text, reason = documents.extract(att("roster.xlsx", xlsx, data))
    assert reason is None
    assert "536-90-4399" in text and "John Smith\t12.5" in text


def test_zip_one_level_deep() -> None:
    data = make_zip({"notes/a.docx": make_docx(["metformin 500 mg"]), "b.csv": b"ssn\n536-90-4399\n",
                     "c.pdf": make_pdf(["lisinopril"])})
    text, reason = documents.extract(att("bundle.zip", "application/zip", data))
    assert reason is None
    assert "metformin 500 mg" in text and "536-90-4399" in text and "lisinopril" in text


@pytest.mark.parametrize("name,ctype,data,why", [
    ("locked.pdf", "application/pdf", make_encrypted_pdf(), "PDF password-protected"),
    ("broken.pdf", "application/pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "PDF corrupt"),
    ("broken.docx", "application/octet-stream", b"PK\x03\x04not really", "DOCX corrupt or encrypted"),
    ("broken.xlsx", "application/octet-stream", b"garbage", "XLSX corrupt or encrypted"),
    ("locked.zip", "application/zip", make_zip({"a.txt": b"hello"}, encrypted_flag=True), "ZIP password-protected"),
    ("nested.zip", "application/zip", make_zip({"inner.zip": make_zip({"a.txt": b"x"})}), "ZIP nested archive"),
    ("bomb.zip", "application/zip", make_zip({"zeros.txt": b"\0" * 5_000_000}), "ZIP compression ratio of a zip bomb"),
])
def test_unreadable_attachments_say_why(name: str, ctype: str, data: bytes, why: str) -> None:
    _, reason = documents.extract(att(name, ctype, data))
    assert reason == why


def test_size_and_page_limits() -> None:
    small = documents.Limits(max_bytes=1000, max_pages=2)
    _, reason = documents.extract(att("big.pdf", "application/pdf", make_pdf(["x" * 50] * 40)), small)
    assert reason == "PDF over the size limit"
    _, reason = documents.extract(att("long.pdf", "application/pdf", make_pdf(["a", "b", "c"])), documents.Limits(max_pages=2))
    assert reason == "PDF more than 2 pages"


def test_unknown_formats_are_left_to_other_extractors() -> None:
    assert documents.extract(att("photo.jpg", "image/jpeg", b"\xff\xd8\xff")) == (None, None)


def test_unreadable_attachment_is_a_finding_through_the_pipeline(outguard_harness) -> None:
    harness = outguard_harness()
    raw = message_with([("locked.pdf", "application/pdf", make_encrypted_pdf()),
                        ("ok.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                         make_docx(["nothing here"]))], body="Holiday party flyer attached.")
    result = harness.check(raw)
    unreadable = [f for f in result.findings if f.id == "attachment.unreadable"]
    assert len(unreadable) == 1 and unreadable[0].count == 1
    assert unreadable[0].detail == "PDF password-protected" and unreadable[0].where == ("attachment:locked.pdf",)
    assert result.decision.verdict == "deliver"


def test_phi_inside_a_pdf_attachment_is_found(outguard_harness) -> None:
    harness = outguard_harness()
    pdf = make_pdf(["Discharge summary", "Patient: Jane Roe, DOB 04/12/1961", "Dx E11.9, HbA1c 9.1, metformin 500 mg"])
    result = harness.check(message_with([("summary.pdf", "application/pdf", pdf)]))
    ids = {f.id for f in result.findings}
    assert {"phi.name", "phi.dob", "phi.health_context"} <= ids
    assert result.decision.verdict == "encrypt"


MEMORY_PROBE = textwrap.dedent("""
    import json, resource, sys, time
    sys.path.insert(0, sys.argv[1])
    from pathlib import Path
    from outguard.core.config import load_config
    from outguard.core.message import Envelope
    from outguard.pipeline import Inspector
    from test_phi_documents import make_pdf, message_with

    cfg = load_config(Path("/dev/null"), {"rules": {"local": [], "override": []}})
    inspector = Inspector.create(cfg)
    kind = sys.argv[2]
    if kind == "pdf":
        page = "\\n".join(f"Line {i} of the quarterly report, nothing to see here." for i in range(90))
        pdf = make_pdf([page] * 1750)
        raw = message_with([("report.pdf", "application/pdf", pdf)])
        size = len(pdf)
    else:
        line = b"The quarterly numbers are in; totals by region follow in the next table.\\n"
        body = line * (50 * 1024 * 1024 // len(line))
        raw = b"From: a@example.org\\nTo: b@example.net\\nSubject: big\\n\\n" + body
        size = len(raw)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    result = inspector.inspect(raw, Envelope("a@example.org", ("b@example.net",)))
    print(json.dumps({"size": size, "before_kb": before, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "cpu": time.process_time() - started, "verdict": result.decision.verdict,
                      "findings": sorted({f.id for f in result.findings}),
                      "details": [f.detail for f in result.findings]}))
""")


def _probe(kind: str) -> dict:
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(HERE), kind], capture_output=True, text=True,
                         timeout=300, cwd="/")
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_ten_megabyte_pdf_stays_within_limits() -> None:
    r = _probe("pdf")
    assert r["size"] >= 9 * 1024 * 1024
    # the extractor stops at its text, page or time limit and says so; memory stays bounded
    assert "scan.truncated" in r["findings"] or "attachment.unreadable" in r["findings"], r["details"]
    grown_mb = (r["peak_kb"] - r["before_kb"]) / 1024
    assert grown_mb < 400, f"inspecting a 10 MB PDF grew the process by {grown_mb:.0f} MB"


def test_fifty_megabyte_message_stays_within_limits() -> None:
    r = _probe("message")
    assert r["size"] >= 50 * 1024 * 1024 - 1024
    assert "scan.truncated" in r["findings"]
    grown_mb = (r["peak_kb"] - r["before_kb"]) / 1024
    assert grown_mb < 600, f"inspecting a 50 MB message grew the process by {grown_mb:.0f} MB"


def test_encrypted_pdf_fixture_matches_the_rule_file() -> None:
    """The rule test in rules/phi.yaml carries a password-protected PDF inline; it must stay one."""
    rules = (HERE.parent / "rules" / "phi.yaml").read_text()
    block = rules.split("Content-Transfer-Encoding: base64", 1)[1].split("--b1--", 1)[0]
    data = base64.b64decode("".join(block.split()))
    assert documents.extract(att("results.pdf", "application/pdf", data))[1] == "PDF password-protected"


def test_xlsx_census_of_patients_is_phi_through_the_pipeline(outguard_harness) -> None:
    import datetime

    data = make_xlsx([["Patient Name", "Date of Birth", "Member ID", "Diagnosis"],
                      ["Jane Roe", datetime.datetime(1961, 4, 12), "XJK123456789", "COPD"],
                      ["Tom Baker", datetime.datetime(1950, 1, 2), "XJK987654321", "atrial fibrillation"]])
    harness = outguard_harness()
    result = harness.check(message_with([("census.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                          data)], body="Census attached."))
    ids = {f.id: f for f in result.findings}
    assert ids["phi.name"].count == 2 and ids["phi.dob"].count == 2 and ids["phi.health_plan"].count == 2
    assert result.decision.verdict == "encrypt"
