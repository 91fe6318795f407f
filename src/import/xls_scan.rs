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
const CONTINUE: u16 = 0x003C;
const BOF: u16 = 0x0809;
const LABEL_SST: u16 = 0x00FD;
const MUL_RK: u16 = 0x00BD;
const MUL_BLANK: u16 = 0x00BE;
/// Records whose body starts with the cell's row and column.
const CELL_RECORDS: &[u16] = &[0x0006, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E, 0x00D6];

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

/// Checks an .xls file's cells against the limits; unreadable files are left for
/// calamine to refuse with its own message.
pub fn check(bytes: &[u8], limits: &Limits) -> Result<(), FileError> {
    let Ok(mut container) = cfb::CompoundFile::open(std::io::Cursor::new(bytes)) else {
        return Ok(());
    };
    let stream = ["/Workbook", "/Book"]
        .iter()
        .find_map(|name| container.open_stream(name).ok());
    let Some(stream) = stream else {
        return Ok(());
    };
    let mut workbook = Vec::new();
    // The stream cannot hold more than the file; a corrupt sector chain must not loop.
    stream
        .take(bytes.len() as u64 * 2)
        .read_to_end(&mut workbook)
        .map_err(|e| FileError::Excel(e.to_string()))?;
    check_biff(&workbook, limits)
}

fn records(stream: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let kind = u16_at(stream, at)?;
        let len = usize::from(u16_at(stream, at + 2)?);
        let body = stream.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        Some((kind, body))
    })
}

fn check_biff(stream: &[u8], limits: &Limits) -> Result<(), FileError> {
    let all: Vec<(u16, &[u8])> = records(stream).collect();
    let mut string_lengths: Vec<u64> = Vec::new();
    for (i, (kind, body)) in all.iter().enumerate() {
        if *kind == SST {
            let mut parts = vec![*body];
            parts.extend(
                all[i + 1..]
                    .iter()
                    .take_while(|(k, _)| *k == CONTINUE)
                    .map(|(_, b)| *b),
            );
            string_lengths = shared_string_lengths(&parts);
            break;
        }
    }
    let mut area: u64 = 0;
    let mut text: u64 = 0;
    let mut sheet: Option<Bounds> = None;
    let too_long = || FileError::CellTooLong {
        limit_kb: limits.cell_bytes / 1024,
    };
    for (kind, body) in &all {
        if *kind == BOF {
            if let Some(done) = sheet.take() {
                area += done.area();
            }
            sheet = Some(Bounds::new());
            continue;
        }
        let Some(bounds) = sheet.as_mut() else {
            continue;
        };
        let (Some(row), Some(col)) = (u16_at(body, 0), u16_at(body, 2)) else {
            continue;
        };
        let (row, col) = (u32::from(row), u32::from(col));
        if *kind == MUL_RK || *kind == MUL_BLANK {
            let last = body
                .len()
                .checked_sub(2)
                .and_then(|at| u16_at(body, at))
                .map_or(col, u32::from);
            bounds.add(row, col, last.max(col));
        } else if CELL_RECORDS.contains(kind) || *kind == LABEL_SST {
            bounds.add(row, col, col);
        } else {
            continue;
        }
        if row as usize >= limits.rows {
            return Err(FileError::TooManyRows(limits.rows));
        }
        if *kind == LABEL_SST {
            let length = u32_at(body, 6)
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
    if let Some(done) = sheet {
        area += done.area();
    }
    if area > MAX_AREA_CELLS {
        return Err(FileError::SheetAreaTooLarge(MAX_AREA_CELLS));
    }
    Ok(())
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

/// The UTF-8 length, at most, of each shared string (characters × 3 for two-byte ones).
fn shared_string_lengths(parts: &[&[u8]]) -> Vec<u64> {
    let mut reader = Parts {
        parts,
        part: 0,
        at: 0,
    };
    let mut out = Vec::new();
    let (Some(_total), Some(unique)) = (reader.u32(), reader.u32()) else {
        return out;
    };
    for _ in 0..unique {
        let Some(chars) = reader.u16() else { break };
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

    fn sst(strings: &[&str]) -> Vec<u8> {
        let mut body = (strings.len() as u32).to_le_bytes().to_vec();
        body.extend((strings.len() as u32).to_le_bytes());
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

    #[test]
    fn far_apart_cells_are_refused_before_calamine_sees_them() {
        let mut stream = record(BOF, &[0; 16]);
        stream.extend(record(BOF, &[0; 16]));
        stream.extend(cell(0x0203, 0, 0, &[0; 10]));
        stream.extend(cell(0x0203, 65535, 255, &[0; 10]));
        let limits = Limits::default();
        assert!(matches!(
            check_biff(&stream, &limits),
            Err(FileError::SheetAreaTooLarge(_))
        ));
        let mut fine = record(BOF, &[0; 16]);
        fine.extend(record(BOF, &[0; 16]));
        fine.extend(cell(0x0203, 0, 0, &[0; 10]));
        fine.extend(cell(0x0203, 2000, 14, &[0; 10]));
        check_biff(&fine, &limits).unwrap();
    }

    #[test]
    fn one_long_string_in_many_cells_is_refused() {
        let long = "x".repeat(1000);
        let limits = Limits {
            member_bytes: 20_000,
            cell_bytes: 2000,
            ..Limits::default()
        };
        let mut stream = record(BOF, &[0; 16]);
        stream.extend(sst(&["a", &long]));
        stream.extend(record(BOF, &[0; 16]));
        for row in 0..10 {
            stream.extend(label_sst(row, 0, 1));
        }
        check_biff(&stream, &limits).unwrap();
        for row in 10..50 {
            stream.extend(label_sst(row, 0, 1));
        }
        assert!(matches!(
            check_biff(&stream, &limits),
            Err(FileError::GridTooLarge { .. })
        ));
        let strict = Limits {
            cell_bytes: 500,
            ..limits
        };
        assert!(matches!(
            check_biff(&stream, &strict),
            Err(FileError::CellTooLong { .. })
        ));
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
