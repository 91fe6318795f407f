//! Writers for exports, row by row, so memory does not grow with the rows: CSV in
//! UTF-8 (with or without a BOM) or CP932, and xlsx. Every CSV cell goes through
//! [`excel_safe`], so no cell runs as a formula in Excel or LibreOffice; xlsx cells are
//! typed (text is never a formula there), so nothing is added to them.

pub mod files;
pub mod form_xlsx;
mod xlsx;

use std::io::{self, Write};

use crate::domain::export::{Cell, TextEncoding, encode_cp932, write_number};
use crate::domain::normalize::{excel_safe, needs_formula_guard};

pub use xlsx::XlsxSheet;

/// A table being written.
pub trait Sheet {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()>;
    /// Completes the file; returns how many characters the encoding could not hold.
    fn finish(self: Box<Self>) -> io::Result<usize>;
}

/// CSV with CRLF line ends, as Excel writes it.
pub struct CsvSheet<W: Write> {
    out: csv::Writer<Encoded<W>>,
    /// A number's text, reused from cell to cell.
    number: String,
}

/// The bytes the csv writer makes (UTF-8), in the file's encoding.
struct Encoded<W: Write> {
    inner: W,
    cp932: bool,
    /// UTF-8 not yet encoded: a character may arrive split across two writes.
    pending: Vec<u8>,
    encoded: Vec<u8>,
    replaced: usize,
}

impl<W: Write> Encoded<W> {
    fn drain(&mut self, all: bool) -> io::Result<()> {
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(text) => text.len(),
            Err(e) if !all && e.error_len().is_none() => e.valid_up_to(),
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        };
        let text = std::str::from_utf8(&self.pending[..valid])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.encoded.clear();
        self.replaced += encode_cp932(text, &mut self.encoded);
        self.inner.write_all(&self.encoded)?;
        self.pending.drain(..valid);
        Ok(())
    }
}

impl<W: Write> Write for Encoded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.cp932 {
            return self.inner.write(buf);
        }
        self.pending.extend_from_slice(buf);
        self.drain(false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.cp932 {
            self.drain(true)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> CsvSheet<W> {
    pub fn new(mut out: W, encoding: TextEncoding) -> io::Result<CsvSheet<W>> {
        if encoding == TextEncoding::Utf8Bom {
            out.write_all(b"\xEF\xBB\xBF")?;
        }
        let encoded = Encoded {
            inner: out,
            cp932: encoding == TextEncoding::Cp932,
            pending: Vec::new(),
            encoded: Vec::new(),
            replaced: 0,
        };
        Ok(CsvSheet {
            out: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .flexible(true)
                .buffer_capacity(64 * 1024)
                .from_writer(encoded),
            number: String::new(),
        })
    }

    /// A row of plain text cells (headings, lists).
    pub fn text_row<S: AsRef<str>>(&mut self, cells: &[S]) -> io::Result<()> {
        let cells: Vec<Cell> = cells.iter().map(|c| Cell::text(c.as_ref())).collect();
        self.row(&cells)
    }
}

impl<W: Write> Sheet for CsvSheet<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        for cell in cells {
            match cell {
                Cell::Empty => self.out.write_field([])?,
                Cell::Text(t) if needs_formula_guard(t) => self.out.write_field(excel_safe(t))?,
                Cell::Text(t) => self.out.write_field(t)?,
                Cell::Number(n) => {
                    self.number.clear();
                    write_number(&mut self.number, *n);
                    self.out.write_field(&self.number)?;
                }
            }
        }
        self.out.write_record(None::<&[u8]>)?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<usize> {
        self.out.flush()?;
        Ok(self.out.get_ref().replaced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(encoding: TextEncoding, rows: &[Vec<Cell>]) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut sheet = Box::new(CsvSheet::new(&mut out, encoding).unwrap());
        for r in rows {
            sheet.row(r).unwrap();
        }
        let replaced = sheet.finish().unwrap();
        (out, replaced)
    }

    #[test]
    fn csv_defuses_formulas_keeps_numbers_and_quotes_what_needs_it() {
        let rows = vec![vec![
            Cell::text("=HYPERLINK(\"x\")"),
            Cell::text("＋1"),
            Cell::Number(-12.0),
            Cell::text("-12"),
            Cell::text("改行\nあり"),
            Cell::Empty,
        ]];
        let (bytes, replaced) = written(TextEncoding::Utf8Bom, &rows);
        assert_eq!(replaced, 0);
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert_eq!(
            text,
            "\"'=HYPERLINK(\"\"x\"\")\",'＋1,-12,-12,\"改行\nあり\",\r\n"
        );
    }

    #[test]
    fn cp932_csv_counts_what_it_replaced() {
        let rows = vec![vec![Cell::text("𠮷田内科"), Cell::text("髙橋")]];
        let (bytes, replaced) = written(TextEncoding::Cp932, &rows);
        assert_eq!(replaced, 1);
        assert_eq!(encoding_rs::SHIFT_JIS.decode(&bytes).0, "〓田内科,髙橋\r\n");
        let (plain, _) = written(TextEncoding::Utf8, &rows);
        assert!(plain.starts_with("𠮷".as_bytes()));
    }
}
