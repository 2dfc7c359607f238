"""How fast two PDF text extractors read a generated 300-page PDF, and what they weigh.

    python bench/pdf_parsers.py              # 300 pages, best of 3 runs each
    python bench/pdf_parsers.py --pages 1000 --runs 5

The PDF is written with fpdf2 (the ``test`` extra): every page holds ~40 lines of prose,
so the extractors do the same work a manual would ask of them. For each extractor that is
installed (pypdf, pypdfium2) it prints pages/s (best of ``--runs``), the size of its
installed files, and the wheel tags it was installed from (``py3-none-any`` is pure Python
and installs everywhere; a platform tag means a compiled wheel, one per platform). A
library that is not installed is skipped.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import time
from collections.abc import Callable
from pathlib import Path

PROSE = (
    "the pump must be primed before the valve is opened and the pressure gauge reads "
    "zero when the system is at rest so check the seals every month and replace them"
)
WORDS = PROSE.split(" ")


def make_pdf(pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for page in range(pages):
        pdf.add_page()
        for line in range(40):
            start = (page * 7 + line * 3) % len(WORDS)
            words = (WORDS[start:] + WORDS[:start])[:14]
            pdf.cell(
                0, 6, f"{page + 1}.{line + 1} " + " ".join(words), new_x="LMARGIN", new_y="NEXT"
            )
    return bytes(pdf.output())


def read_pypdf(data: bytes) -> int:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return sum(len(page.extract_text() or "") for page in reader.pages)


def read_pypdfium2(data: bytes) -> int:
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        total = 0
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            total += len(textpage.get_text_range())
            textpage.close()
            page.close()
        return total
    finally:
        document.close()


EXTRACTORS: dict[str, tuple[str, Callable[[bytes], int]]] = {
    "pypdf": ("pypdf", read_pypdf),
    "pypdfium2": ("pypdfium2", read_pypdfium2),
}


def installed_size(distribution: str) -> tuple[float, str]:
    """MiB of the distribution's installed files, and its wheel tags."""
    dist = importlib.metadata.distribution(distribution)
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    wheel = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    return total / 2**20, ", ".join(tags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    data = make_pdf(args.pages)
    made = time.perf_counter() - started
    print(f"generated a {args.pages}-page PDF of {len(data) / 2**20:.2f} MiB in {made:.1f}s")
    print(f"{'library':<11} {'version':<9} {'pages/s':>9} {'chars':>9} {'MiB':>6}  wheel")
    for name, (distribution, read) in EXTRACTORS.items():
        try:
            version = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            print(f"{name:<11} not installed, skipped")
            continue
        best, chars = float("inf"), 0
        for _ in range(args.runs):
            begin = time.perf_counter()
            chars = read(data)
            best = min(best, time.perf_counter() - begin)
        size, tags = installed_size(distribution)
        rate = args.pages / best
        print(f"{name:<11} {version:<9} {rate:>9.0f} {chars:>9} {size:>6.1f}  {tags}")


if __name__ == "__main__":
    main()
