//! A look at an old-format .xls (BIFF in an OLE container) before calamine opens it.
//!
//! calamine reads every sheet of an .xls when it opens the file, into a block as large
//! as the area between the sheet's outermost cells, and copies a shared string into
//! every cell that refers to it. So a tiny file with two far-apart cells, or a million
//! references to one long string, is a memory bomb. This scan walks the cell records
//! and refuses such files first: the sheets' areas, each cell's length, and the text
//! the cells would hold, all against [`Limits`].

use std::io::Read;

use super::FileError;
use super::limits::Limits;

/// Most cells the outermost cells of all sheets may span (calamine allocates each cell
/// of that area, some 32 bytes each). A bureau list is about 15 columns by at most
/// 65,536 rows.
pub const MAX_AREA_CELLS: u64 = 5_000_000;

const SST: u16 = 0x00FC;
/// The globals record of an .xls saved with a password to open it.
const FILE_PASS: u16 = 0x002F;
const CONTINUE: u16 = 0x003C;
const BOF: u16 = 0x0809;
const LABEL_SST: u16 = 0x00FD;
const MUL_RK: u16 = 0x00BD;
/// Records whose body starts with the cell's row and column and that calamine keeps
/// (blank cells it drops).
const CELL_RECORDS: &[u16] = &[0x0006, 0x0203, 0x0204, 0x0205, 0x027E, 0x00D6];

struct Bounds {
    rows: (u32, u32),
    cols: (u32, u32),
}

impl Bounds {
    fn new() -> Bounds {
        Bounds {
            rows: (u32::MAX, 0),
            cols: (u32::MAX, 0),
        }
    }

    fn add(&mut self, row: u32, first_col: u32, last_col: u32) {
        self.rows = (self.rows.0.min(row), self.rows.1.max(row));
        self.cols = (self.cols.0.min(first_col), self.cols.1.max(last_col));
    }

    fn area(&self) -> u64 {
        if self.rows.0 > self.rows.1 {
            return 0;
        }
        u64::from(self.rows.1 - self.rows.0 + 1) * u64::from(self.cols.1 - self.cols.0 + 1)
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    data.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Checks an .xls file's cells against the limits, reading it as calamine will: the
/// `Workbook` (or `Book`) stream, the globals up to their first EOF (the last SST wins),
/// then every sheet from its BoundSheet offset, nested substreams skipped. A file whose
/// container cannot be read is refused here rather than left to a reader that might
/// find its way in differently.
pub fn check(bytes: &[u8], limits: &Limits) -> Result<(), FileError> {
    let unreadable = |e: &dyn std::fmt::Display| FileError::Excel(e.to_string());
    let mut container =
        cfb::CompoundFile::open(std::io::Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    // An encrypted .xlsx is an OLE container too, holding the encrypted package.
    if container.exists("/EncryptedPackage") {
        return Err(FileError::Encrypted);
    }
    let stream = ["/Workbook", "/Book"]
        .iter()
        .find_map(|name| container.open_stream(name).ok())
        .ok_or_else(|| FileError::Excel("Workbook ストリームがありません".into()))?;
    let mut workbook = Vec::new();
    // The stream cannot hold more than the file; a corrupt sector chain must not loop.
    stream
        .take(bytes.len() as u64 * 2)
        .read_to_end(&mut workbook)
        .map_err(|e| unreadable(&e))?;
    check_biff(&workbook, limits)
}

/// One BIFF record with the CONTINUE records that follow it.
struct Record<'a> {
    kind: u16,
    body: &'a [u8],
    continued: Vec<&'a [u8]>,
}

/// The records from `at`, as calamine's reader splits them (it stops at a record that
/// runs past the end, and so do we).
fn records(stream: &[u8], mut at: usize) -> impl Iterator<Item = Record<'_>> {
    let header = move |at: usize| -> Option<(u16, usize)> {
        Some((u16_at(stream, at)?, usize::from(u16_at(stream, at + 2)?)))
    };
    std::iter::from_fn(move || {
        let (kind, len) = header(at)?;
        let body = stream.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        let mut continued = Vec::new();
        while let Some((CONTINUE, len)) = header(at) {
            continued.push(stream.get(at + 4..at + 4 + len)?);
            at += 4 + len;
        }
        Some(Record {
            kind,
            body,
            continued,
        })
    })
}

const EOF: u16 = 0x000A;
const BOUND_SHEET: u16 = 0x0085;
const DIMENSIONS: u16 = 0x0200;

fn check_biff(stream: &[u8], limits: &Limits) -> Result<(), FileError> {
    // The globals: sheet offsets and the shared strings.
    let mut sheets: Vec<usize> = Vec::new();
    let mut string_lengths: Vec<u64> = Vec::new();
    for r in records(stream, 0) {
        match r.kind {
            BOUND_SHEET => sheets.push(u32_at(r.body, 0).unwrap_or(0) as usize),
            SST => {
                let mut parts = vec![r.body];
                parts.extend(r.continued);
                string_lengths = shared_string_lengths(&parts);
            }
            FILE_PASS => return Err(FileError::Encrypted),
            EOF => break,
            _ => {}
        }
    }
    let too_long = || FileError::CellTooLong {
        limit_kb: limits.cell_bytes / 1024,
    };
    let mut area: u64 = 0;
    let mut text: u64 = 0;
    for &start in &sheets {
        if start >= stream.len() {
            return Err(FileError::Excel(
                "シートの位置がファイルの外を指しています".into(),
            ));
        }
        let mut bounds = Bounds::new();
        let mut seen_bof = false;
        let mut depth = 0usize;
        for r in records(stream, start) {
            if depth > 0 {
                match r.kind {
                    BOF => depth += 1,
                    EOF => depth -= 1,
                    _ => {}
                }
                continue;
            }
            match r.kind {
                BOF if seen_bof => depth += 1,
                BOF => seen_bof = true,
                EOF => break,
                DIMENSIONS => area += dimensions_area(r.body)?,
                _ => {}
            }
            let (Some(row), Some(col)) = (u16_at(r.body, 0), u16_at(r.body, 2)) else {
                continue;
            };
            let (row, col) = (u32::from(row), u32::from(col));
            match r.kind {
                MUL_RK => {
                    let last = r
                        .body
                        .len()
                        .checked_sub(2)
                        .and_then(|at| u16_at(r.body, at))
                        .map_or(col, u32::from);
                    bounds.add(row, col, last.max(col));
                }
                k if CELL_RECORDS.contains(&k) || k == LABEL_SST => bounds.add(row, col, col),
                _ => continue,
            }
            if row as usize >= limits.rows {
                return Err(FileError::TooManyRows(limits.rows));
            }
            if r.kind == LABEL_SST {
                let length = u32_at(r.body, 6)
                    .and_then(|i| string_lengths.get(i as usize).copied())
                    .unwrap_or(0);
                if length > limits.cell_bytes as u64 {
                    return Err(too_long());
                }
                text += length;
                if text > limits.total_bytes() {
                    return Err(FileError::GridTooLarge {
                        limit_mb: limits.total_bytes() / (1024 * 1024),
                    });
                }
            }
        }
        // calamine holds a block as large as the area between the sheet's outermost
        // cells, for each sheet it lists (twice listed, twice held).
        area += bounds.area();
        if area > MAX_AREA_CELLS {
            return Err(FileError::SheetAreaTooLarge(MAX_AREA_CELLS));
        }
    }
    if area > MAX_AREA_CELLS {
        return Err(FileError::SheetAreaTooLarge(MAX_AREA_CELLS));
    }
    Ok(())
}

/// The cells a DIMENSIONS record makes calamine reserve room for (BIFF8: 32-bit rows).
fn dimensions_area(body: &[u8]) -> Result<u64, FileError> {
    let (first_row, last_row, first_col, last_col) = match body.len() {
        10 => (
            u32::from(u16_at(body, 0).unwrap_or(0)),
            u32::from(u16_at(body, 2).unwrap_or(0)),
            u32::from(u16_at(body, 4).unwrap_or(0)),
            u32::from(u16_at(body, 6).unwrap_or(0)),
        ),
        14 | 16 => (
            u32_at(body, 0).unwrap_or(0),
            u32_at(body, 4).unwrap_or(0),
            u32::from(u16_at(body, 8).unwrap_or(0)),
            u32::from(u16_at(body, 10).unwrap_or(0)),
        ),
        // calamine refuses other lengths itself.
        _ => return Ok(0),
    };
    let first_col = if first_col > 0xFF || last_col < first_col {
        0
    } else {
        first_col
    };
    if last_row == 0 || last_col == 0 {
        return Ok(1);
    }
    // Past-the-end values: `last_row - 1` is the last row used.
    if last_row - 1 < first_row {
        return Err(FileError::SheetAreaTooLarge(MAX_AREA_CELLS));
    }
    Ok(u64::from(last_row - first_row) * u64::from(last_col - first_col))
}

/// Reads bytes across an SST record and its CONTINUE records.
struct Parts<'a> {
    parts: &'a [&'a [u8]],
    part: usize,
    at: usize,
}

impl Parts<'_> {
    fn byte(&mut self) -> Option<u8> {
        loop {
            let part = self.parts.get(self.part)?;
            if let Some(&b) = part.get(self.at) {
                self.at += 1;
                return Some(b);
            }
            self.part += 1;
            self.at = 0;
        }
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }

    fn skip(&mut self, mut n: usize) -> Option<()> {
        while n > 0 {
            let part = self.parts.get(self.part)?;
            let left = part.len() - self.at.min(part.len());
            if left == 0 {
                self.part += 1;
                self.at = 0;
                continue;
            }
            let step = left.min(n);
            self.at += step;
            n -= step;
        }
        Some(())
    }

    /// Skips `chars` characters; where they run into the next record, that record
    /// starts with a fresh flags byte saying whether they are one or two bytes each.
    fn skip_chars(&mut self, mut chars: usize, mut wide: bool) -> Option<()> {
        while chars > 0 {
            let part = self.parts.get(self.part)?;
            let left = part.len().saturating_sub(self.at);
            let size = if wide { 2 } else { 1 };
            let fit = (left / size).min(chars);
            self.at += fit * size;
            chars -= fit;
            if chars > 0 {
                self.part += 1;
                self.at = 0;
                wide = self.byte()? & 1 == 1;
            }
        }
        Some(())
    }
}

/// The UTF-8 length, at most, of each shared string (characters × 3 for two-byte ones),
/// every string the records hold: calamine ignores the count the header declares.
fn shared_string_lengths(parts: &[&[u8]]) -> Vec<u64> {
    let mut reader = Parts {
        parts,
        part: 0,
        at: 0,
    };
    let mut out = Vec::new();
    let (Some(_total), Some(_unique)) = (reader.u32(), reader.u32()) else {
        return out;
    };
    while let Some(chars) = reader.u16() {
        let Some(flags) = reader.byte() else { break };
        let wide = flags & 0x01 != 0;
        let runs = if flags & 0x08 != 0 {
            reader.u16().map_or(0, usize::from)
        } else {
            0
        };
        let ext = if flags & 0x04 != 0 {
            reader.u32().map_or(0, |n| n as usize)
        } else {
            0
        };
        if reader.skip_chars(usize::from(chars), wide).is_none() {
            break;
        }
        out.push(u64::from(chars) * if wide { 3 } else { 1 });
        if reader.skip(runs * 4 + ext).is_none() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut out = kind.to_le_bytes().to_vec();
        out.extend((body.len() as u16).to_le_bytes());
        out.extend(body);
        out
    }

    fn cell(kind: u16, row: u16, col: u16, rest: &[u8]) -> Vec<u8> {
        let mut body = row.to_le_bytes().to_vec();
        body.extend(col.to_le_bytes());
        body.extend(rest);
        record(kind, &body)
    }

    /// An SST record whose header declares `declared` strings.
    fn sst(strings: &[&str], declared: u32) -> Vec<u8> {
        let mut body = declared.to_le_bytes().to_vec();
        body.extend(declared.to_le_bytes());
        for s in strings {
            body.extend((s.len() as u16).to_le_bytes());
            body.push(0);
            body.extend(s.as_bytes());
        }
        record(SST, &body)
    }

    fn label_sst(row: u16, col: u16, index: u32) -> Vec<u8> {
        let mut rest = 0u16.to_le_bytes().to_vec();
        rest.extend(index.to_le_bytes());
        cell(LABEL_SST, row, col, &rest)
    }

    fn number(row: u16, col: u16) -> Vec<u8> {
        cell(0x0203, row, col, &[0; 10])
    }

    /// A workbook stream: the globals (with `globals` inside), then `sheets.len()`
    /// BoundSheet records pointing at the sheet bodies (each wrapped in BOF … EOF).
    fn workbook(globals: &[u8], sheets: &[Vec<u8>]) -> Vec<u8> {
        let bound = |pos: u32| {
            let mut body = pos.to_le_bytes().to_vec();
            body.extend([0, 0, 1, b'S']);
            record(BOUND_SHEET, &body)
        };
        let head_len = record(BOF, &[0; 16]).len()
            + globals.len()
            + sheets.len() * bound(0).len()
            + record(EOF, &[]).len();
        let mut pos = head_len;
        let mut out = record(BOF, &[0; 16]);
        out.extend(globals);
        let mut bodies = Vec::new();
        for body in sheets {
            out.extend(bound(pos as u32));
            let mut sheet = record(BOF, &[0; 16]);
            sheet.extend(body);
            sheet.extend(record(EOF, &[]));
            pos += sheet.len();
            bodies.extend(sheet);
        }
        out.extend(record(EOF, &[]));
        out.extend(bodies);
        out
    }

    #[test]
    fn far_apart_cells_are_refused_before_calamine_sees_them() {
        let limits = Limits::default();
        let far = [number(0, 0), number(65535, 255)].concat();
        assert!(matches!(
            check_biff(&workbook(&[], &[far]), &limits),
            Err(FileError::SheetAreaTooLarge(_))
        ));
        let near = [number(0, 0), number(2000, 14)].concat();
        check_biff(&workbook(&[], std::slice::from_ref(&near)), &limits).unwrap();
        // A chart block in the middle does not restart the sheet's bounds.
        let split = [
            number(0, 0),
            record(BOF, &[0; 16]),
            record(EOF, &[]),
            number(65535, 255),
        ]
        .concat();
        assert!(matches!(
            check_biff(&workbook(&[], &[split]), &limits),
            Err(FileError::SheetAreaTooLarge(_))
        ));
        // The same sheet (100,000 cells of area) listed a hundred times is held a
        // hundred times.
        let sheet = [number(0, 0), number(9999, 9)].concat();
        check_biff(&workbook(&[], std::slice::from_ref(&sheet)), &limits).unwrap();
        let hundred: Vec<Vec<u8>> = (0..100).map(|_| sheet.clone()).collect();
        assert!(matches!(
            check_biff(&workbook(&[], &hundred), &limits),
            Err(FileError::SheetAreaTooLarge(_))
        ));
    }

    #[test]
    fn a_declared_sheet_size_is_checked_too() {
        // DIMENSIONS (BIFF8): rows 0 to 0xFFFFFFFF, columns 0 to 255.
        let mut body = 0u32.to_le_bytes().to_vec();
        body.extend(u32::MAX.to_le_bytes());
        body.extend(0u16.to_le_bytes());
        body.extend(256u16.to_le_bytes());
        body.extend(0u16.to_le_bytes());
        let sheet = [record(DIMENSIONS, &body), number(0, 0)].concat();
        assert!(matches!(
            check_biff(&workbook(&[], &[sheet]), &Limits::default()),
            Err(FileError::SheetAreaTooLarge(_))
        ));
    }

    #[test]
    fn one_long_string_in_many_cells_is_refused() {
        let long = "x".repeat(1000);
        let limits = Limits {
            member_bytes: 20_000,
            cell_bytes: 2000,
            ..Limits::default()
        };
        // The header declares no strings: calamine reads them all the same.
        let globals = sst(&["a", &long], 0);
        let cells = |n: u16| -> Vec<u8> { (0..n).flat_map(|row| label_sst(row, 0, 1)).collect() };
        check_biff(&workbook(&globals, &[cells(10)]), &limits).unwrap();
        assert!(matches!(
            check_biff(&workbook(&globals, &[cells(50)]), &limits),
            Err(FileError::GridTooLarge { .. })
        ));
        let strict = Limits {
            cell_bytes: 500,
            ..limits
        };
        assert!(matches!(
            check_biff(&workbook(&globals, &[cells(1)]), &strict),
            Err(FileError::CellTooLong { .. })
        ));
    }

    #[test]
    fn a_sheet_outside_the_stream_is_refused() {
        let mut body = 10_000u32.to_le_bytes().to_vec();
        body.extend([0, 0, 1, b'S']);
        let stream = [
            record(BOF, &[0; 16]),
            record(BOUND_SHEET, &body),
            record(EOF, &[]),
        ]
        .concat();
        assert!(check_biff(&stream, &Limits::default()).is_err());
    }

    #[test]
    fn shared_strings_continue_in_the_next_record() {
        // "abcdef" split after "abc"; the CONTINUE record repeats the flags byte.
        let mut first = 1u32.to_le_bytes().to_vec();
        first.extend(1u32.to_le_bytes());
        first.extend(6u16.to_le_bytes());
        first.push(0);
        first.extend(b"abc");
        let second = [&[0u8][..], b"def"].concat();
        let lengths = shared_string_lengths(&[&first, &second]);
        assert_eq!(lengths, vec![6]);
    }
}
