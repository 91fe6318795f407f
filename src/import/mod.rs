//! Reading uploaded files: Excel (.xlsx, .xls, also inside a .zip) and CSV (UTF-8, UTF-8
//! with BOM, Shift_JIS/CP932) become one [`Grid`] of text cells; each importer reads
//! its layout from the grid. Nothing here touches the database.

pub mod institutions;
pub mod ndb;
pub mod plan;
pub mod service;

use std::io::{Cursor, Read};

use calamine::{Data, Reader};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("ファイルが空です")]
    Empty,
    #[error(
        "ファイル「{0}」は Excel ファイル（.xlsx / .xls）として読めません。壊れていないか、別の形式を .xlsx と名付けていないか確認してください"
    )]
    NotExcel(String),
    #[error("Excel ファイルを読めませんでした: {0}")]
    Excel(String),
    #[error("ZIP ファイルの中に Excel または CSV ファイルがありません")]
    EmptyZip,
    #[error("ZIP ファイルを読めませんでした: {0}")]
    Zip(String),
    #[error(
        "CSV の文字コードを判別できません。UTF-8 または Shift_JIS（Excel の「CSV（コンマ区切り）」）で保存してください"
    )]
    Encoding,
    #[error("CSV を読めませんでした（{line} 行目付近）: {reason}")]
    Csv { line: u64, reason: String },
    #[error("ブックにシートがありません")]
    NoSheet,
    #[error(
        "ファイル形式が分かりません。.xlsx、.xls、.csv、またはそれらを含む .zip を選んでください"
    )]
    UnknownType,
}

/// A sheet as text: `rows[r][c]`, 0-based from cell A1, ragged rows allowed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    pub rows: Vec<Vec<String>>,
}

impl Grid {
    pub fn cell(&self, row: usize, col: usize) -> &str {
        self.rows
            .get(row)
            .and_then(|r| r.get(col))
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn height(&self) -> usize {
        self.rows.len()
    }

    pub fn is_blank(&self) -> bool {
        self.rows
            .iter()
            .all(|r| r.iter().all(|c| c.trim().is_empty()))
    }
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Reads the first sheet of an Excel file, or a CSV file, from its bytes. The file name
/// only decides how a text file is taken; Excel formats are recognised by content.
pub fn read_grid(file_name: &str, bytes: &[u8]) -> Result<Grid, FileError> {
    read_grid_depth(file_name, bytes, 0)
}

fn read_grid_depth(file_name: &str, bytes: &[u8], depth: u8) -> Result<Grid, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    let lower = file_name.to_lowercase();
    if bytes.starts_with(ZIP_MAGIC) {
        let mut archive =
            zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| FileError::Zip(e.to_string()))?;
        if archive.by_name("xl/workbook.xml").is_ok() {
            return excel(bytes);
        }
        if depth > 0 {
            return Err(FileError::EmptyZip);
        }
        // A zip the bureau distributes: take the first Excel or CSV member.
        for i in 0..archive.len() {
            let mut member = archive
                .by_index(i)
                .map_err(|e| FileError::Zip(e.to_string()))?;
            // Names from Japanese Windows zippers are CP932 without the UTF-8 flag.
            let inner_name = match member.name() {
                Ok(n) => n.into_owned(),
                Err(_) => encoding_rs::SHIFT_JIS
                    .decode(member.name_raw())
                    .0
                    .into_owned(),
            };
            let name = inner_name.to_lowercase();
            if member.is_file()
                && [".xlsx", ".xls", ".csv"]
                    .iter()
                    .any(|ext| name.ends_with(ext))
            {
                let mut inner = Vec::new();
                member
                    .by_ref()
                    .take(MAX_MEMBER_BYTES)
                    .read_to_end(&mut inner)
                    .map_err(|e| FileError::Zip(e.to_string()))?;
                return read_grid_depth(&inner_name, &inner, depth + 1);
            }
        }
        return Err(FileError::EmptyZip);
    }
    if bytes.starts_with(OLE_MAGIC) {
        return excel(bytes);
    }
    if lower.ends_with(".xlsx") || lower.ends_with(".xls") || lower.ends_with(".xlsm") {
        return Err(FileError::NotExcel(file_name.to_string()));
    }
    if lower.ends_with(".csv") || lower.ends_with(".txt") {
        return csv_grid(bytes);
    }
    Err(FileError::UnknownType)
}

/// A zip member larger than this is refused (a zip bomb must not fill the memory).
const MAX_MEMBER_BYTES: u64 = 200 * 1024 * 1024;

fn excel(bytes: &[u8]) -> Result<Grid, FileError> {
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|e| FileError::Excel(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or(FileError::NoSheet)?
        .map_err(|e| FileError::Excel(e.to_string()))?;
    let (top, left) = range.start().unwrap_or((0, 0));
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (r, row) in range.rows().enumerate() {
        let r = r + top as usize;
        if rows.len() <= r {
            rows.resize(r + 1, Vec::new());
        }
        let out = &mut rows[r];
        for (c, value) in row.iter().enumerate() {
            let c = c + left as usize;
            let text = cell_text(value);
            if text.is_empty() {
                continue;
            }
            if out.len() <= c {
                out.resize(c + 1, String::new());
            }
            out[c] = text;
        }
    }
    Ok(Grid { rows })
}

/// A cell as text: whole numbers without `.0`, dates as ISO dates, errors empty.
fn cell_text(value: &Data) -> String {
    match value {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => dt
            .as_datetime()
            .map(|d| d.date().format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
    }
}

/// Decodes CSV bytes: UTF-8 (with or without BOM), else Shift_JIS (CP932, what Excel
/// writes on Japanese Windows). A file that is neither is refused, never guessed.
pub fn decode_text(bytes: &[u8]) -> Result<String, FileError> {
    let without_bom = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(without_bom) {
        return Ok(text.to_string());
    }
    encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|c| c.into_owned())
        .ok_or(FileError::Encoding)
}

fn csv_grid(bytes: &[u8]) -> Result<Grid, FileError> {
    let text = decode_text(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| FileError::Csv {
            line: e.position().map_or(0, |p| p.line()),
            reason: e.to_string(),
        })?;
        rows.push(record.iter().map(str::to_string).collect());
    }
    Ok(Grid { rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_in_every_encoding() {
        let utf8 = "医療機関コード,名称\n4610000011,さくら医院\n";
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), utf8.as_bytes()].concat();
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(utf8);
        for bytes in [utf8.as_bytes().to_vec(), with_bom, sjis.into_owned()] {
            let grid = read_grid("x.csv", &bytes).unwrap();
            assert_eq!(grid.cell(0, 0), "医療機関コード");
            assert_eq!(grid.cell(1, 1), "さくら医院");
        }
    }

    #[test]
    fn broken_input_is_refused_with_a_reason() {
        assert_eq!(read_grid("a.csv", b""), Err(FileError::Empty));
        assert_eq!(
            read_grid("a.xlsx", b"just text"),
            Err(FileError::NotExcel("a.xlsx".into()))
        );
        assert_eq!(read_grid("a.pdf", b"%PDF-1.4"), Err(FileError::UnknownType));
        // Bytes valid neither as UTF-8 nor as Shift_JIS.
        assert_eq!(
            read_grid("a.csv", &[0x82, 0xFF, 0xFF, 0x0A]),
            Err(FileError::Encoding)
        );
        assert!(matches!(
            read_grid("a.xlsx", b"PK\x03\x04garbage"),
            Err(FileError::Zip(_))
        ));
        assert!(matches!(
            read_grid("a.xls", &[OLE_MAGIC, b"garbage".as_slice()].concat()),
            Err(FileError::Excel(_))
        ));
    }

    #[test]
    fn random_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for i in 0..300 {
            let len = rng.random_range(0..400);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            if i % 3 == 0 {
                bytes.splice(0..0, ZIP_MAGIC.iter().copied());
            } else if i % 3 == 1 {
                bytes.splice(0..0, OLE_MAGIC.iter().copied());
            }
            let _ = read_grid("fuzz.xlsx", &bytes);
            let _ = read_grid("fuzz.csv", &bytes);
        }
    }
}
