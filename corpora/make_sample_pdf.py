"""Write a small text PDF without any PDF library (pypdf reads, it does not typeset).

Used to build ``corpora/samples/statute-gazette.pdf`` and by the tests, which
need real PDFs with known text on known pages.  Each page is lines of
Helvetica text; the file has a correct cross-reference table so strict
readers accept it.

    python corpora/make_sample_pdf.py corpora/samples/statute-gazette.pdf
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def minimal_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A PDF with one page per string (ASCII/Latin-1 text, wrapped at 90 chars)."""
    objects: list[bytes] = []
    n_pages = len(pages)
    page_ids = [4 + 2 * i for i in range(n_pages)]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    for i, text in enumerate(pages):
        lines: list[str] = []
        for para in text.split("\n"):
            lines.extend(textwrap.wrap(para, 90) or [""])
        ops = ["BT", "/F1 10 Tf", "14 TL", "56 800 Td"]
        for line in lines:
            ops.append(f"({_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_ids[i] + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info_id = None
    if title:
        objects.append(f"<< /Title ({_escape(title)}) >>".encode("latin-1"))
        info_id = len(objects)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{num} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R"
    if info_id:
        trailer += f" /Info {info_id} 0 R"
    out += f"trailer\n{trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


GAZETTE_PAGES = [
    "OFFICIAL GAZETTE OF THE REPUBLIC OF NORVANIA\n"
    "Act No. 14 of 2021 on the Prevention of Trafficking in Persons\n"
    "Section 1. For the purposes of this Act, 'exploitation' includes forced labour, "
    "servitude, sexual exploitation and the removal of organs.\n"
    "Section 2. The consent of a victim to the intended exploitation shall be irrelevant "
    "where any of the means set out in Section 3 have been used.",
    "Section 3. Any person who recruits, transports, harbours or receives another person "
    "by means of threat, force, deception or abuse of a position of vulnerability for the "
    "purpose of exploitation commits the offence of trafficking in persons.\n"
    "Section 4. A person convicted of an offence under Section 3 shall be liable to "
    "imprisonment for a term of not less than 8 years and not more than 20 years.\n"
    "Section 5. The Ministry of Social Welfare shall provide victims with shelter, medical "
    "care and legal aid free of charge.",
]


def main() -> int:
    """Write the sample gazette PDF to the path given (default: the samples folder)."""
    target = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else (Path(__file__).parent / "samples" / "statute-gazette.pdf")
    )
    target.write_bytes(minimal_pdf(GAZETTE_PAGES, title="Act No. 14 of 2021 (Norvania)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
