#!/usr/bin/env python3
"""Hostile upload files for the institution-master (and NDB) import.

Usage: scripts/hostile-files.py OUTDIR [--only NAME ...] [--no-verify]

Everything is streamed: no file, and no member of a zip, is ever held whole in memory
(the 1 GB members are written in 1 MiB chunks through ZipFile.open(..., 'w',
force_zip64=True)). Standard library only. The files, in the template layout (header
医療機関コード,名称,所在地):

  dup-1000.csv, dup-2000.csv, dup-4000.csv   that many identical rows (same code)
  dup-16384.xlsx, dup-1048575.xlsx           the same as a minimal xlsx (inline strings)
  cell-1g.xlsx      one inline-string cell holding 1 GB of 'a' (about 1 MB compressed)
  sst-1g.xlsx       sharedStrings.xml of about 1 GB (63 million small strings), tiny sheet
  zeros-1g.zip      a plain zip holding list.csv: 1 GB of '0'
  rows-1m.csv       1,000,000 rows with distinct valid codes 461DDSSSSC (Shift_JIS, so
                    that it stays under the default 20 MiB upload limit: 20 bytes a row)
  area.xlsx         two cells, A1 and XFD1048576, and <dimension ref="A1:XFD1048576"/>

Each zip is checked afterwards with zipfile (every member's CRC read back, streamed),
and the sizes are printed.
"""

import argparse
import os
import sys
import time
import zipfile

GIB = 1 << 30
CHUNK = 1 << 20

HEADER = ("医療機関コード", "名称", "所在地")
NAME = "鹿児島中央クリニック"
ADDRESS = "鹿児島県鹿児島市山下町11-1"


def check_digit(nine: str) -> int:
    """src/domain/codes.rs: from the rightmost digit, weights 2, 1, 2, 1, …; two-digit
    products count as the sum of their digits; (10 − S mod 10) mod 10."""
    total = 0
    for i, ch in enumerate(reversed(nine)):
        p = int(ch) * (2 if i % 2 == 0 else 1)
        total += p // 10 + p % 10
    return (10 - total % 10) % 10


def code(district: int, serial: int, prefecture: int = 46, fee_table: int = 1) -> str:
    nine = f"{prefecture:02d}{fee_table}{district:02d}{serial:04d}"
    return f"{nine}{check_digit(nine)}"


CODE = code(0, 1)  # 4610000012
assert CODE == "4610000012", CODE
assert code(1, 28) == "4610100283"  # the README's example


# ---------------------------------------------------------------- xlsx scaffolding

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def content_types(shared_strings: bool) -> str:
    sst = (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        if shared_strings
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        f"{sst}</Types>"
    )


ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)

WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f"<workbook {NS} {NS_R}><sheets>"
    '<sheet name="Sheet1" sheetId="1" r:id="rId1"/>'
    "</sheets></workbook>"
)


def workbook_rels(shared_strings: bool) -> str:
    sst = (
        f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
        if shared_strings
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f"{sst}</Relationships>"
    )


def sheet_head(dimension: str | None = None) -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f"<worksheet {NS} {NS_R}>{dim}<sheetData>"
    )


SHEET_TAIL = "</sheetData></worksheet>"


def col_name(index: int) -> str:
    """0 → A, 16383 → XFD."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(ord("A") + rem) + name
    return name


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def row_xml(r: int, values) -> str:
    cells = "".join(inline(f"{col_name(i)}{r}", v) for i, v in enumerate(values))
    return f'<row r="{r}">{cells}</row>'


def open_xlsx(path: str, shared_strings: bool = False) -> zipfile.ZipFile:
    z = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    z.writestr("[Content_Types].xml", content_types(shared_strings))
    z.writestr("_rels/.rels", ROOT_RELS)
    z.writestr("xl/workbook.xml", WORKBOOK)
    z.writestr("xl/_rels/workbook.xml.rels", workbook_rels(shared_strings))
    return z


class Buffered:
    """Collects text and writes it to a binary stream in ~1 MiB encoded chunks."""

    def __init__(self, stream, encoding="utf-8"):
        self.stream, self.encoding = stream, encoding
        self.parts, self.size = [], 0

    def write(self, text: str):
        self.parts.append(text)
        self.size += len(text)
        if self.size >= CHUNK // 2:
            self.flush()

    def flush(self):
        if self.parts:
            self.stream.write("".join(self.parts).encode(self.encoding))
            self.parts, self.size = [], 0


def repeat_bytes(stream, unit: bytes, total: int):
    """Writes `unit` repeated up to exactly `total` bytes, 1 MiB at a time."""
    block = unit * max(1, CHUNK // len(unit))
    left = total
    while left > 0:
        piece = block if left >= len(block) else block[:left]
        stream.write(piece)
        left -= len(piece)


# ---------------------------------------------------------------- the files


def dup_csv(path: str, n: int):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(HEADER) + "\n")
        line = f"{CODE},{NAME},{ADDRESS}\n"
        for start in range(0, n, 10000):
            f.write(line * min(10000, n - start))


def dup_xlsx(path: str, n: int):
    with open_xlsx(path) as z:
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as s:
            out = Buffered(s)
            out.write(sheet_head(f"A1:C{n + 1}"))
            out.write(row_xml(1, HEADER))
            for r in range(2, n + 2):
                out.write(row_xml(r, (CODE, NAME, ADDRESS)))
            out.write(SHEET_TAIL)
            out.flush()


def cell_1g(path: str):
    with open_xlsx(path) as z:
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as s:
            s.write((sheet_head() + '<row r="1"><c r="A1" t="inlineStr"><is><t>').encode())
            repeat_bytes(s, b"a", GIB)
            s.write(("</t></is></c></row>" + SHEET_TAIL).encode())


def sst_1g(path: str):
    unit = b"<si><t>a</t></si>"
    count = GIB // len(unit)
    with open_xlsx(path, shared_strings=True) as z:
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as s:
            s.write(
                (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    f'<sst {NS} count="{count}" uniqueCount="{count}">'
                ).encode()
            )
            repeat_bytes(s, unit, count * len(unit))
            s.write(b"</sst>")
        # The sheet: the template header (inline) and one row pointing at string 0.
        sheet = (
            sheet_head()
            + row_xml(1, HEADER)
            + '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c>'
            + '<c r="C2" t="s"><v>2</v></c></row>'
            + SHEET_TAIL
        )
        z.writestr("xl/worksheets/sheet1.xml", sheet)


def zeros_1g(path: str):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("list.csv", "w", force_zip64=True) as s:
            repeat_bytes(s, b"0", GIB)


def rows_1m(path: str):
    # Shift_JIS (what Excel writes on Japanese Windows; the import detects it): 20 bytes a
    # row, 20 MB in all, under the default 20 MiB upload limit. 出水市 is a Kagoshima
    # municipality, so every row is an ordinary addition.
    with open(path, "wb") as f:
        out = Buffered(f, encoding="cp932")
        out.write(",".join(HEADER) + "\n")
        for district in range(100):
            for serial in range(10000):
                out.write(f"{code(district, serial)},A,出水市\n")
        out.flush()


def area(path: str):
    with open_xlsx(path) as z:
        sheet = (
            sheet_head("A1:XFD1048576")
            + row_xml(1, (HEADER[0],))
            + f'<row r="1048576">{inline("XFD1048576", "x")}</row>'
            + SHEET_TAIL
        )
        z.writestr("xl/worksheets/sheet1.xml", sheet)


FILES = {
    "dup-1000.csv": lambda p: dup_csv(p, 1000),
    "dup-2000.csv": lambda p: dup_csv(p, 2000),
    "dup-4000.csv": lambda p: dup_csv(p, 4000),
    "dup-16384.xlsx": lambda p: dup_xlsx(p, 16384),
    "dup-1048575.xlsx": lambda p: dup_xlsx(p, 1048575),
    "cell-1g.xlsx": cell_1g,
    "sst-1g.xlsx": sst_1g,
    "zeros-1g.zip": zeros_1g,
    "rows-1m.csv": rows_1m,
    "area.xlsx": area,
}


def verify(path: str) -> str:
    """Opens a zip and reads every member back (streamed); returns a description."""
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()
        if bad is not None:
            raise SystemExit(f"{path}: member {bad} fails its CRC")
        largest = max(z.infolist(), key=lambda i: i.file_size)
        return f"zip ok, {len(z.infolist())} members, largest {largest.filename} {largest.file_size:,} bytes"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--only", nargs="*", choices=sorted(FILES), help="make only these files")
    ap.add_argument("--no-verify", action="store_true", help="skip reading the zips back")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    for name, make in FILES.items():
        if args.only and name not in args.only:
            continue
        path = os.path.join(args.outdir, name)
        started = time.monotonic()
        make(path + ".part")
        os.replace(path + ".part", path)
        made = time.monotonic() - started
        note = ""
        if zipfile.is_zipfile(path):
            note = "zip check skipped" if args.no_verify else verify(path)
        elif name.endswith((".xlsx", ".zip")):
            raise SystemExit(f"{path} is not a zip")
        print(f"{name:18} {os.path.getsize(path):>13,} bytes  ({made:.1f} s)  {note}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
