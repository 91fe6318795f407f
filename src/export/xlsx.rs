//! A streamed xlsx writer: the worksheet's XML goes straight into the zip's deflate
//! stream, row by row, so 110,000 rows take no more memory than one. It writes the
//! small part of SpreadsheetML an export needs (one sheet, inline strings, numbers,
//! a frozen header), with the zip crate the importer already uses; a general xlsx
//! library would hold every cell in memory, or add a second zip implementation.

use std::io::{self, Seek, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::Sheet;
use crate::domain::export::Cell;

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#;

const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;

const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#;

const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="2"><font><sz val="11"/><name val="游ゴシック"/><family val="3"/><charset val="128"/></font><font><b/><sz val="11"/><name val="游ゴシック"/><family val="3"/><charset val="128"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs><cellStyles count="1"><cellStyle name="標準" xfId="0" builtinId="0"/></cellStyles></styleSheet>"#;

/// Excel's limits: more would not open.
pub const MAX_ROWS: usize = 1_048_576;
pub const MAX_COLUMNS: usize = 16_384;

pub struct XlsxSheet<W: Write + Seek> {
    zip: ZipWriter<W>,
    /// Rows written so far (1-based row number of the next is this + 1).
    rows: usize,
    /// Rows shown bold and kept in view while scrolling.
    header_rows: usize,
    /// Column letters, computed once.
    letters: Vec<String>,
    line: String,
}

impl<W: Write + Seek> XlsxSheet<W> {
    /// Starts a workbook with one sheet named `sheet_name`; the first `header_rows`
    /// rows are headings.
    pub fn new(out: W, sheet_name: &str, header_rows: usize) -> io::Result<XlsxSheet<W>> {
        // ZIP64 only if the sheet should pass 4 GB: LibreOffice refuses an xlsx whose
        // entries carry ZIP64 fields they do not need.
        let mut zip = ZipWriter::new(out).set_auto_large_file();
        let small = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        let part = |zip: &mut ZipWriter<W>, name: &str, body: &str| -> io::Result<()> {
            zip.start_file(name, small).map_err(io::Error::other)?;
            zip.write_all(body.as_bytes())
        };
        part(&mut zip, "[Content_Types].xml", CONTENT_TYPES)?;
        part(&mut zip, "_rels/.rels", ROOT_RELS)?;
        part(&mut zip, "xl/_rels/workbook.xml.rels", WORKBOOK_RELS)?;
        part(&mut zip, "xl/styles.xml", STYLES)?;
        let workbook = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{}" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            escape(&sheet_name_of(sheet_name))
        );
        part(&mut zip, "xl/workbook.xml", &workbook)?;
        let sheet = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(1));
        zip.start_file("xl/worksheets/sheet1.xml", sheet)
            .map_err(io::Error::other)?;
        let pane = if header_rows > 0 {
            format!(
                r#"<sheetViews><sheetView workbookViewId="0"><pane ySplit="{header_rows}" topLeftCell="A{}" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>"#,
                header_rows + 1
            )
        } else {
            String::new()
        };
        write!(
            zip,
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{pane}<sheetData>"#
        )?;
        Ok(XlsxSheet {
            zip,
            rows: 0,
            header_rows,
            letters: Vec::new(),
            line: String::with_capacity(8192),
        })
    }

    fn letter(&mut self, column: usize) -> &str {
        while self.letters.len() <= column {
            self.letters.push(column_letters(self.letters.len()));
        }
        &self.letters[column]
    }
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name_of(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    if cleaned.is_empty() {
        "Sheet1".into()
    } else {
        cleaned
    }
}

/// A, B, … Z, AA, AB, …
fn column_letters(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Text as XML character data; characters XML 1.0 cannot hold (control characters
/// other than tab and line ends) are dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

impl<W: Write + Seek> Sheet for XlsxSheet<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        if self.rows >= MAX_ROWS || cells.len() > MAX_COLUMNS {
            return Err(io::Error::other(
                "Excel の上限（1,048,576 行・16,384 列）を超えるため xlsx にできません。CSV を選んでください",
            ));
        }
        self.rows += 1;
        let row = self.rows;
        let style = if row <= self.header_rows {
            " s=\"1\""
        } else {
            ""
        };
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        line.push_str(&format!("<row r=\"{row}\">"));
        for (i, cell) in cells.iter().enumerate() {
            match cell {
                Cell::Empty => {}
                Cell::Text(t) => {
                    let at = self.letter(i);
                    line.push_str(&format!(
                        "<c r=\"{at}{row}\" t=\"inlineStr\"{style}><is><t xml:space=\"preserve\">{}</t></is></c>",
                        escape(t)
                    ));
                }
                Cell::Number(n) if n.is_finite() => {
                    let at = self.letter(i);
                    line.push_str(&format!("<c r=\"{at}{row}\"{style}><v>{n}</v></c>"));
                }
                Cell::Number(_) => {}
            }
        }
        line.push_str("</row>");
        self.zip.write_all(line.as_bytes())?;
        self.line = line;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<usize> {
        self.zip.write_all(b"</sheetData></worksheet>")?;
        self.zip.finish().map_err(io::Error::other)?.flush()?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx};

    #[test]
    fn column_letters_follow_excel() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn calamine_reads_back_text_numbers_and_formula_like_text_as_text() {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut sheet = Box::new(XlsxSheet::new(&mut buf, "報告[2026]", 1).unwrap());
        sheet
            .row(&[Cell::text("コード"), Cell::text("名称"), Cell::text("数")])
            .unwrap();
        sheet
            .row(&[
                Cell::text("4610100283"),
                Cell::text("=1+1 <b>&\u{1}"),
                Cell::Number(4.5),
            ])
            .unwrap();
        sheet
            .row(&[Cell::Empty, Cell::Empty, Cell::Number(3.0)])
            .unwrap();
        sheet.finish().unwrap();
        let mut book = Xlsx::new(std::io::Cursor::new(buf.into_inner())).unwrap();
        assert_eq!(book.sheet_names(), vec!["報告2026".to_string()]);
        let range = book.worksheet_range("報告2026").unwrap();
        assert_eq!(range.get((1, 0)), Some(&Data::String("4610100283".into())));
        assert_eq!(range.get((1, 1)), Some(&Data::String("=1+1 <b>&".into())));
        assert_eq!(range.get((1, 2)), Some(&Data::Float(4.5)));
        assert_eq!(range.get((2, 2)), Some(&Data::Float(3.0)));
        assert_eq!(range.get((2, 0)), Some(&Data::Empty));
    }
}
