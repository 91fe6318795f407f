#!/usr/bin/env python3
"""Write the institutions of a kakari SQLite database as a bureau-format workbook.

Purpose: the import benchmark should measure a realistic file. This script takes
the synthetic institutions that the demo generator loads (`kakari demo
--institutions N`) and writes them in the layout of the regional health
bureau's monthly list 「コード内容別医療機関一覧表」, the same layout as the test
fixtures in tests/fixtures/bureau/ (see README.md there):

  * one sheet (医科 or 歯科); every printed page is 101 rows: 11 heading and
    caption rows (title, 「[鹿児島県]」, scope line, 「令和 8年 7月 1日作成 N頁」,
    captions in rows 9-11), then 90 data rows; blocks never split across
    pages, a row break follows every page;
  * each institution is a block of 2 or 3 rows:
      row 1: A 項番, B code as dd-dddd-d (the last 7 of the 10 digits),
             C name, D 〒postcode (full-width) + address, E phone,
             F 開設者, G 管理者, H 指定年月日 (era form, e.g. 昭38. 5. 1),
             I 病床数・診療科, J 種別 (病院 / 診療所);
      row 2: E 「常　勤:    n（医　科）」, H 新規, J 現存 / 休止;
      row 3: E 「非常勤:    n（医　科）」, H 指定期間始 (era form).

The workbook is written with openpyxl in write-only (streaming) mode, so that
15,000 institutions take seconds, not minutes.

Usage:
    python3 scripts/make-bureau-file.py --db kakari.sqlite3 --out bureau.xlsx
    python3 scripts/make-bureau-file.py --db kakari.sqlite3 --out d.xlsx --kind dental --limit 500

Reads table `institutions` (code, fee_table, category, name, postcode, address,
phone, founder, manager, designated_on, departments, status, prefecture_code)
with fee_table '1' (--kind medical, the default) or '3' (--kind dental),
ordered by code. The database is opened read-only. Only prefecture 46
(鹿児島県) is supported. Status 'abolished' is printed as 休止 (the bureau's
list only knows 現存/休止).

Needs openpyxl (pip install openpyxl). Self-contained: no import from tests/.
"""

import argparse
import datetime
import os
import pathlib
import sqlite3
import sys
import time

try:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.cell_range import CellRange
    from openpyxl.worksheet.pagebreak import Break
except ImportError:  # pragma: no cover
    sys.exit("openpyxl is needed: pip install openpyxl")

# ---------------------------------------------------------------- layout ---
PREFECTURES = {"46": "鹿児島県"}
KINDS = {  # --kind -> (fee_table digit, label in the scope line / sheet / staff lines)
    "medical": ("1", "医科", "医　科"),
    "dental": ("3", "歯科", "歯　科"),
}
TITLE = "コード内容別医療機関一覧表"
AS_OF = "令和 8年 7月 1日"          # the date the list is "as of" and "made on"
HEADER_ROWS = 11                    # heading + caption rows at the top of every page
DATA_ROWS_PER_PAGE = 90             # data rows per printed page (blocks never split)
PAGE_ROWS = HEADER_ROWS + DATA_ROWS_PER_PAGE
COLUMNS = "ABCDEFGHIJ"
WIDTHS = {"A": 6, "B": 12, "C": 30, "D": 36, "E": 20, "F": 22, "G": 16,
          "H": 11, "I": 18, "J": 9}

# (row within the page header (1-based), column, text)
CAPTIONS = [
    (9, "A", "項番"), (9, "B", "医療機関番号"), (9, "C", "医療機関名称"),
    (9, "D", "医療機関所在地"), (9, "E", "電話番号"), (9, "F", "開設者氏名"),
    (9, "G", "管理者氏名"), (9, "H", "指定年月日"), (9, "I", "病床数・診療科"),
    (9, "J", "備考"),
    (10, "E", "常勤"), (10, "H", "登録理由"), (10, "J", "現存／休止"),
    (11, "E", "非常勤"), (11, "H", "指定期間始"),
]

CATEGORY = {"hospital": "病院", "clinic": "診療所", "dental": "診療所"}
STATUS = {"active": "現存", "suspended": "休止", "abolished": "休止"}

FW_DIGITS = str.maketrans("0123456789-", "０１２３４５６７８９－")

# ------------------------------------------------------------- era dates ---
ERAS = [  # (abbreviation, first day), newest first
    ("令", datetime.date(2019, 5, 1)),
    ("平", datetime.date(1989, 1, 8)),
    ("昭", datetime.date(1926, 12, 25)),
    ("大", datetime.date(1912, 7, 30)),
    ("明", datetime.date(1868, 1, 25)),
]


def era(d):
    """date -> bureau era form: 昭38. 5. 1 / 平 3. 4. 1 / 令元. 5. 1 (None before 明治)."""
    for abbr, start in ERAS:
        if d >= start:
            n = d.year - start.year + 1
            y = "元" if n == 1 else "%2d" % n
            return "%s%s.%2d.%2d" % (abbr, y, d.month, d.day)
    return None


def era_of_iso(text):
    """'YYYY-MM-DD' (possibly with a time part) -> era form, or None."""
    if not text:
        return None
    try:
        return era(datetime.date.fromisoformat(str(text).strip()[:10]))
    except ValueError:
        return None


# ---------------------------------------------------------------- fields ---
def code_cell(code):
    """10-digit code -> printed 7 digits dd-dddd-d."""
    s = code[3:]
    return "%s-%s-%s" % (s[:2], s[2:6], s[6])


def address_cell(postcode, address):
    address = address or ""
    if not postcode:
        return address
    digits = postcode.replace("-", "").strip()
    if len(digits) == 7 and digits.isdigit():
        postcode = digits[:3] + "-" + digits[3:]
    return "〒" + postcode.translate(FW_DIGITS) + address


def staff(seed, hospital):
    """Deterministic staff counts (常勤, 非常勤) from the code."""
    if hospital:
        return 3 + seed % 20, seed // 7 % 25
    return 1 + seed % 2, seed // 7 % 4


# --------------------------------------------------------------- writing ---
class Sheet:
    """A write-only sheet that keeps track of the row number and the page."""

    def __init__(self, wb, title, pref_label, scope):
        self.ws = wb.create_sheet(title)
        for col, w in WIDTHS.items():
            self.ws.column_dimensions[col].width = w
        self.ws.print_options.gridLines = False
        self.ws.page_setup.orientation = "landscape"
        self.ws.page_setup.paperSize = 9  # A4 (Worksheet.PAPERSIZE_A4)
        self.pref_label = pref_label
        self.scope = scope
        self.font = Font(name="ＭＳ ゴシック", size=9)
        self.title_font = Font(name="ＭＳ ゴシック", size=14, bold=True)
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.row = 0          # last row written
        self.page = 0
        self.page_end = 0     # last row of the current page

    def cell(self, value, font=None):
        c = WriteOnlyCell(self.ws, value=value)
        if isinstance(value, str):
            if value.startswith("="):
                # keep it as text, never a formula
                c.data_type = "s"
                c.quotePrefix = True
            if "\n" in value:
                c.alignment = self.wrap
        c.font = font or self.font
        return c

    def append(self, values):
        """values: {column letter: value}; None and '' are left blank."""
        row = [None] * len(COLUMNS)
        for col, v in values.items():
            if v is None or v == "":
                continue
            row[ord(col) - 65] = self.cell(v)
        self.ws.append(row)
        self.row += 1

    def new_page(self):
        while self.row < self.page_end:   # pad the page to its full length
            self.ws.append([])
            self.row += 1
        if self.page:
            self.ws.row_breaks.append(Break(id=self.page_end))
        self.page += 1
        top = self.row + 1
        self.page_end = top + PAGE_ROWS - 1
        header = {
            2: {"D": self.cell(TITLE, self.title_font)},
            4: {"A": self.cell(self.pref_label), "C": self.cell(self.scope),
                "H": self.cell("%s作成 %d頁" % (AS_OF, self.page))},
        }
        for off, col, text in CAPTIONS:
            header.setdefault(off, {})[col] = self.cell(text)
        for off in range(1, HEADER_ROWS + 1):
            cells = header.get(off, {})
            self.ws.append([cells.get(c) for c in COLUMNS])
            self.row += 1
        self.ws.merged_cells.add(CellRange("D%d:G%d" % (top + 1, top + 1)))

    def block(self, rows):
        if self.page == 0 or self.row + len(rows) > self.page_end:
            self.new_page()
        for values in rows:
            self.append(values)


def block_rows(serial, r, staff_label):
    code = r["code"]
    seed = int(code)
    hospital = r["category"] == "hospital"
    full, part = staff(seed, hospital)
    designated = era_of_iso(r["designated_on"])
    rows = [
        {"A": serial, "B": code_cell(code), "C": r["name"],
         "D": address_cell(r["postcode"], r["address"]), "E": r["phone"],
         "F": r["founder"], "G": r["manager"], "H": designated,
         "I": r["departments"], "J": CATEGORY.get(r["category"], "診療所")},
        {"E": "常　勤:%5d（%s）" % (full, staff_label), "H": "新規",
         "J": STATUS.get(r["status"], "現存")},
    ]
    if hospital or seed % 3 == 0:
        rows.append({"E": "非常勤:%5d（%s）" % (part, staff_label), "H": designated})
    return rows


def planned_last_row(heights):
    """The last row Sheet.block() will write for blocks of these heights."""
    row, page_end = 0, 0
    for h in heights:
        if page_end == 0 or row + h > page_end:
            row = page_end + HEADER_ROWS
            page_end += PAGE_ROWS
        row += h
    return row or HEADER_ROWS


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Write the institutions of a kakari SQLite database as a "
                    "bureau-format workbook (コード内容別医療機関一覧表).")
    ap.add_argument("--db", required=True, help="the SQLite database (opened read-only)")
    ap.add_argument("--out", required=True, help="the .xlsx to write")
    ap.add_argument("--limit", type=int, default=None,
                    help="at most this many institutions (default: all)")
    ap.add_argument("--kind", choices=sorted(KINDS), default="medical",
                    help="medical (fee_table 1, default) or dental (fee_table 3)")
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 0:
        ap.error("--limit must be 0 or more")
    if not os.path.isfile(args.db):
        ap.error("no such database: %s" % args.db)

    started = time.monotonic()
    fee_table, kind_label, staff_label = KINDS[args.kind]
    uri = pathlib.Path(args.db).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    conn.row_factory = sqlite3.Row
    sql = ("SELECT code, fee_table, category, name, postcode, address, phone, founder,"
           " manager, designated_on, departments, status, prefecture_code"
           " FROM institutions WHERE fee_table = ? ORDER BY code")
    params = [fee_table]
    if args.limit is not None:
        sql += " LIMIT ?"
        params.append(args.limit)
    try:
        rows = conn.execute(sql, params).fetchall()
    except sqlite3.Error as e:
        sys.exit("cannot read institutions from %s: %s" % (args.db, e))
    finally:
        conn.close()

    prefs = sorted({r["prefecture_code"] for r in rows})
    if len(prefs) > 1:
        sys.exit("institutions of several prefectures (%s); the bureau list is per "
                 "prefecture" % ", ".join(prefs))
    pref = prefs[0] if prefs else "46"
    if pref not in PREFECTURES:
        sys.exit("prefecture %s is not supported (only %s)"
                 % (pref, ", ".join("%s %s" % kv for kv in PREFECTURES.items())))
    for r in rows:
        code = r["code"] or ""
        if len(code) != 10 or not code.isdigit():
            sys.exit("institution code %r is not 10 digits" % code)

    wb = openpyxl.Workbook(write_only=True)
    wb.properties.creator = "make-bureau-file.py"
    sheet = Sheet(wb, kind_label, "[%s]" % PREFECTURES[pref],
                  "[%s現在 %s 現存/休止]" % (AS_OF, kind_label))
    blocks = [block_rows(serial, r, staff_label) for serial, r in enumerate(rows, 1)]
    # Write-only sheets cannot compute <dimension> (it precedes the rows in the
    # XML), so lay the pages out first and give the writer the final size.
    last_row = planned_last_row([len(b) for b in blocks])
    sheet.ws.calculate_dimension = lambda: "A1:J%d" % last_row
    no_date = sum(1 for r in rows if era_of_iso(r["designated_on"]) is None)
    for rows_of_block in blocks:
        sheet.block(rows_of_block)
    if sheet.page == 0:
        sheet.new_page()          # an empty list still has its heading
    assert sheet.row == last_row, (sheet.row, last_row)
    wb.save(args.out)

    print("%s: %d institutions (%s), %d pages, %d rows, %d bytes, %.1f s"
          % (args.out, len(rows), kind_label, sheet.page, sheet.row,
             os.path.getsize(args.out), time.monotonic() - started), file=sys.stderr)
    if no_date:
        print("note: %d institutions have no (printable) designated_on" % no_date,
              file=sys.stderr)


if __name__ == "__main__":
    main()
