//! Reading uploaded files: Excel (.xlsx, .xls, also inside a .zip) and CSV (UTF-8, UTF-8
//! with BOM, Shift_JIS/CP932) become one [`Grid`] of text cells; each importer reads
//! its layout from the grid. Nothing here touches the database.

pub mod institutions;
pub mod limits;
pub mod ndb;
pub mod plan;
pub mod xls_scan;

use std::io::Cursor;

use calamine::{Data, DataRef, Reader};

pub use limits::Limits;

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
    #[error(
        "パスワードで保護されたファイルは読めません。Excel でパスワードを解除して（「ファイル」→「情報」→「ブックの保護」）保存し直してください"
    )]
    Encrypted,
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
    #[error(
        "ファイル内の「{member}」は展開すると {limit_mb} MB を超えるため、読み込みを中止しました。ファイルは取り込んでいません"
    )]
    MemberTooLarge { member: String, limit_mb: u64 },
    #[error(
        "ファイル内の「{member}」は圧縮率が {ratio} 倍を超えるため、読み込みを中止しました（圧縮爆弾の疑い）。ファイルは取り込んでいません"
    )]
    CompressionRatio { member: String, ratio: u64 },
    #[error(
        "ファイル全体を展開すると {limit_mb} MB を超えるため、読み込みを中止しました。ファイルは取り込んでいません"
    )]
    ArchiveTooLarge { limit_mb: u64 },
    #[error("ZIP ファイルの中のファイルが多すぎます（{0} 個まで）。ファイルは取り込んでいません")]
    TooManyMembers(usize),
    #[error(
        "{limit_kb} KB を超える長さのセルがあるため、読み込みを中止しました。ファイルは取り込んでいません"
    )]
    CellTooLong { limit_kb: usize },
    #[error(
        "行数が上限（{0} 行）を超えるため、読み込みを中止しました。ファイルを分けて取り込んでください"
    )]
    TooManyRows(usize),
    #[error(
        "セルの文字が合計 {limit_mb} MB を超えるため、読み込みを中止しました。ファイルは取り込んでいません"
    )]
    GridTooLarge { limit_mb: u64 },
    #[error(
        "シートの使われている範囲が大きすぎます（{0} セルまで）。離れたセルに値が入っていないか確認してください"
    )]
    SheetAreaTooLarge(u64),
}

/// One non-empty cell of a [`Grid`]: its column and its text's place in `Grid::text`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    col: u32,
    start: u32,
    end: u32,
}

/// A sheet as text, 0-based from cell A1. Only non-empty cells are kept, their text in
/// one string: a million-row CSV costs its text and 12 bytes a cell, not a string
/// allocation per cell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    text: String,
    /// Non-empty cells, row by row, columns ascending.
    cells: Vec<Span>,
    /// `cells[row_start[r]..row_start[r + 1]]` are the cells of row `r`.
    row_start: Vec<u32>,
    /// Merged areas, read only for a sheet asked for by name ([`read_named_sheet`]).
    pub merged: Vec<MergedArea>,
}

/// Cells merged into one (zero-based, inclusive): the value is in the top-left cell and
/// the others read empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergedArea {
    pub top: u32,
    pub left: u32,
    pub bottom: u32,
    pub right: u32,
}

impl MergedArea {
    fn of(d: &calamine::Dimensions) -> MergedArea {
        MergedArea {
            top: d.start.0,
            left: d.start.1,
            bottom: d.end.0,
            right: d.end.1,
        }
    }

    pub fn contains(&self, row: u32, col: u32) -> bool {
        (self.top..=self.bottom).contains(&row) && (self.left..=self.right).contains(&col)
    }
}

impl Grid {
    /// A grid from rows of cells (tests, and small sheets built in code).
    pub fn from_rows<S: AsRef<str>>(rows: &[Vec<S>]) -> Grid {
        let mut builder = GridBuilder::new(Limits::default());
        for (r, row) in rows.iter().enumerate() {
            for (c, text) in row.iter().enumerate() {
                // Built from code, so within any limit that matters.
                let _ = builder.put(r as u32, c as u32, text.as_ref());
            }
        }
        builder.height = builder.height.max(rows.len() as u32);
        builder.finish()
    }

    pub fn cell(&self, row: usize, col: usize) -> &str {
        let cells = self.row_slice(row);
        match cells.binary_search_by_key(&(col as u32), |s| s.col) {
            Ok(i) => &self.text[cells[i].start as usize..cells[i].end as usize],
            Err(_) => "",
        }
    }

    fn row_slice(&self, row: usize) -> &[Span] {
        match (self.row_start.get(row), self.row_start.get(row + 1)) {
            (Some(&a), Some(&b)) => &self.cells[a as usize..b as usize],
            _ => &[],
        }
    }

    /// The non-empty cells of a row with their column numbers.
    pub fn row(&self, row: usize) -> impl Iterator<Item = (usize, &str)> {
        self.row_slice(row)
            .iter()
            .map(|s| (s.col as usize, &self.text[s.start as usize..s.end as usize]))
    }

    /// Whether every cell of the row is empty or blank.
    pub fn row_is_blank(&self, row: usize) -> bool {
        self.row(row).all(|(_, c)| c.trim().is_empty())
    }

    pub fn height(&self) -> usize {
        self.row_start.len().saturating_sub(1)
    }

    pub fn is_blank(&self) -> bool {
        (0..self.height()).all(|r| self.row_is_blank(r))
    }
}

/// Collects cells in any order within the limits, then sorts them into a [`Grid`].
struct GridBuilder {
    limits: Limits,
    text: String,
    cells: Vec<(u32, Span)>,
    sorted: bool,
    height: u32,
}

impl GridBuilder {
    fn new(limits: Limits) -> GridBuilder {
        GridBuilder {
            limits,
            text: String::new(),
            cells: Vec::new(),
            sorted: true,
            height: 0,
        }
    }

    fn put(&mut self, row: u32, col: u32, value: &str) -> Result<(), FileError> {
        // A file we exported and the officer corrected comes back with our formula
        // guards; they are not data.
        let value = crate::domain::normalize::excel_unguard(value);
        if row as usize >= self.limits.rows {
            return Err(FileError::TooManyRows(self.limits.rows));
        }
        self.height = self.height.max(row + 1);
        if value.is_empty() {
            return Ok(());
        }
        if value.len() > self.limits.cell_bytes {
            return Err(FileError::CellTooLong {
                limit_kb: self.limits.cell_bytes / 1024,
            });
        }
        if (self.text.len() + value.len()) as u64 > self.limits.total_bytes() {
            return Err(FileError::GridTooLarge {
                limit_mb: self.limits.total_bytes() / (1024 * 1024),
            });
        }
        if let Some(&(last_row, last)) = self.cells.last()
            && (last_row, last.col) >= (row, col)
        {
            self.sorted = false;
        }
        let start = self.text.len() as u32;
        self.text.push_str(value);
        self.cells.push((
            row,
            Span {
                col,
                start,
                end: self.text.len() as u32,
            },
        ));
        Ok(())
    }

    /// Counts a row that may hold nothing (a blank CSV line keeps its number).
    fn touch(&mut self, row: u32) -> Result<(), FileError> {
        self.put(row, 0, "")
    }

    fn finish(mut self) -> Grid {
        if !self.sorted {
            // Stable, so that of two values for one cell the later one wins below.
            self.cells.sort_by_key(|(r, s)| (*r, s.col));
            let mut deduped: Vec<(u32, Span)> = Vec::with_capacity(self.cells.len());
            for cell in self.cells {
                match deduped.last_mut() {
                    Some(last) if (last.0, last.1.col) == (cell.0, cell.1.col) => *last = cell,
                    _ => deduped.push(cell),
                }
            }
            self.cells = deduped;
        }
        let mut row_start = Vec::with_capacity(self.height as usize + 1);
        let mut i = 0;
        for r in 0..=self.height {
            while i < self.cells.len() && self.cells[i].0 < r {
                i += 1;
            }
            row_start.push(i as u32);
        }
        Grid {
            text: self.text,
            cells: self.cells.into_iter().map(|(_, s)| s).collect(),
            row_start,
            merged: Vec::new(),
        }
    }
}

/// A list as a preview keeps it: how many there are and the first of them (the whole
/// list is downloaded while the preview stands).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Listed<T> {
    pub total: usize,
    pub first: Vec<T>,
}

/// Rows of each list a preview keeps and shows.
pub const PREVIEW_ROWS: usize = 300;

impl<T: Clone> Listed<T> {
    pub fn of(all: &[T]) -> Listed<T> {
        Listed {
            total: all.len(),
            first: all.iter().take(PREVIEW_ROWS).cloned().collect(),
        }
    }

    /// How many are not among the first.
    pub fn more(&self) -> usize {
        self.total.saturating_sub(self.first.len())
    }
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Listed {
            total: 0,
            first: Vec::new(),
        }
    }
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Reads the first sheet of an Excel file, or a CSV file, from its bytes, within the
/// limits. The file name only decides how a text file is taken; Excel formats are
/// recognised by content.
pub fn read_grid(file_name: &str, bytes: &[u8], limits: &Limits) -> Result<Grid, FileError> {
    read_grid_depth(file_name, bytes, limits, 0)
}

fn read_grid_depth(
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
    depth: u8,
) -> Result<Grid, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    let lower = file_name.to_lowercase();
    if bytes.starts_with(ZIP_MAGIC) {
        let mut archive =
            zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| FileError::Zip(e.to_string()))?;
        if archive.by_name("xl/workbook.xml").is_ok() {
            return xlsx(bytes, limits);
        }
        if depth > 0 {
            return Err(FileError::EmptyZip);
        }
        // A zip the bureau distributes: take the first Excel or CSV member.
        for i in 0..archive.len() {
            let (is_file, name) = {
                let member = archive
                    .by_index(i)
                    .map_err(|e| FileError::Zip(e.to_string()))?;
                (
                    member.is_file(),
                    limits::member_name(&member).to_lowercase(),
                )
            };
            if is_file
                && [".xlsx", ".xls", ".csv"]
                    .iter()
                    .any(|ext| name.ends_with(ext))
            {
                let (inner_name, inner) =
                    limits::read_member(&mut archive, i, bytes.len() as u64, limits)?;
                return read_grid_depth(&inner_name, &inner, limits, depth + 1);
            }
        }
        return Err(FileError::EmptyZip);
    }
    if bytes.starts_with(OLE_MAGIC) {
        return xls(bytes, limits);
    }
    if lower.ends_with(".xlsx") || lower.ends_with(".xls") || lower.ends_with(".xlsm") {
        return Err(FileError::NotExcel(file_name.to_string()));
    }
    if lower.ends_with(".csv") || lower.ends_with(".txt") {
        return csv_grid(bytes, limits);
    }
    Err(FileError::UnknownType)
}

/// An .xlsx: every member inflated once within the caps, then the first sheet read cell
/// by cell (calamine's range reader would allocate the whole area between the outermost
/// cells, which is itself a bomb).
fn xlsx(bytes: &[u8], limits: &Limits) -> Result<Grid, FileError> {
    xlsx_sheet(bytes, limits, None)?.ok_or(FileError::NoSheet)
}

/// A sheet of an .xlsx: the first, or the one named (`None` when there is none).
fn xlsx_sheet(
    bytes: &[u8],
    limits: &Limits,
    name: Option<&str>,
) -> Result<Option<Grid>, FileError> {
    limits::inspect_archive(bytes, limits)?;
    let excel = |e: calamine::XlsxError| FileError::Excel(e.to_string());
    let mut book: calamine::Xlsx<_> = calamine::Xlsx::new(Cursor::new(bytes)).map_err(excel)?;
    let names = book.sheet_names();
    let chosen = match name {
        None => names.first().cloned(),
        Some(wanted) => names.iter().find(|n| n.as_str() == wanted).cloned(),
    };
    let Some(sheet) = chosen else {
        return Ok(None);
    };
    // Only a sheet read by name (a form) needs its merged cells: reading them parses
    // the sheet a second time, which a large master file should not pay for.
    let merged = match name {
        Some(_) => book
            .merge_cells_by_sheet_name(&sheet)
            .map_err(excel)?
            .iter()
            .map(MergedArea::of)
            .collect(),
        None => Vec::new(),
    };
    let mut cells = book.worksheet_cells_reader(&sheet).map_err(excel)?;
    let mut grid = GridBuilder::new(*limits);
    while let Some(cell) = cells.next_cell().map_err(excel)? {
        let (row, col) = cell.get_position();
        grid.put(row, col, &ref_text(cell.get_value()))?;
    }
    let mut grid = grid.finish();
    grid.merged = merged;
    Ok(Some(grid))
}

/// An old-format .xls, checked for memory bombs before calamine opens it.
fn xls(bytes: &[u8], limits: &Limits) -> Result<Grid, FileError> {
    xls_sheet(bytes, limits, None)?.ok_or(FileError::NoSheet)
}

fn xls_sheet(bytes: &[u8], limits: &Limits, name: Option<&str>) -> Result<Option<Grid>, FileError> {
    xls_scan::check(bytes, limits)?;
    let excel = |e: calamine::XlsError| match e {
        calamine::XlsError::Password => FileError::Encrypted,
        e => FileError::Excel(e.to_string()),
    };
    let mut book: calamine::Xls<_> = calamine::Xls::new(Cursor::new(bytes)).map_err(excel)?;
    let merged: Vec<MergedArea> = match name {
        Some(n) if book.sheet_names().iter().any(|s| s == n) => book
            .merge_cells_by_sheet_name(n)
            .map_err(excel)?
            .iter()
            .map(MergedArea::of)
            .collect(),
        _ => Vec::new(),
    };
    let range = match name {
        None => book.worksheet_range_at(0),
        Some(wanted) => {
            let found = book.sheet_names().iter().any(|n| n.as_str() == wanted);
            if found {
                Some(book.worksheet_range(wanted))
            } else {
                None
            }
        }
    };
    let Some(range) = range else {
        return Ok(None);
    };
    let range = range.map_err(excel)?;
    let mut grid = GridBuilder::new(*limits);
    // calamine gives positions within the range; the grid counts from A1.
    let (top, left) = range.start().unwrap_or((0, 0));
    for (row, col, value) in range.used_cells() {
        grid.put(top + row as u32, left + col as u32, &cell_text(value))?;
    }
    grid.height = grid.height.max(top + range.height() as u32);
    let mut grid = grid.finish();
    grid.merged = merged;
    Ok(Some(grid))
}

/// One named sheet of an Excel file (.xlsx or .xls, told by content), within the
/// limits; `None` when the workbook has no such sheet.
pub fn read_named_sheet(
    file_name: &str,
    bytes: &[u8],
    name: &str,
    limits: &Limits,
) -> Result<Option<Grid>, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if bytes.starts_with(ZIP_MAGIC) {
        return xlsx_sheet(bytes, limits, Some(name));
    }
    if bytes.starts_with(OLE_MAGIC) {
        return xls_sheet(bytes, limits, Some(name));
    }
    Err(FileError::NotExcel(file_name.to_string()))
}

/// A cell as text: whole numbers without `.0`, dates as ISO dates, errors empty.
fn cell_text(value: &Data) -> String {
    match value {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) => float_text(*f),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => dt
            .as_datetime()
            .map(|d| d.date().format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
    }
}

fn ref_text<'a>(value: &'a DataRef<'_>) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    match value {
        DataRef::Empty | DataRef::Error(_) => Cow::Borrowed(""),
        DataRef::SharedString(s) => Cow::Borrowed(s),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
            Cow::Borrowed(s.as_str())
        }
        DataRef::Float(f) => Cow::Owned(float_text(*f)),
        DataRef::Int(i) => Cow::Owned(i.to_string()),
        DataRef::Bool(b) => Cow::Owned(b.to_string()),
        DataRef::DateTime(dt) => Cow::Owned(
            dt.as_datetime()
                .map(|d| d.date().format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
        ),
    }
}

fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

/// Decodes CSV bytes: UTF-8 (with or without BOM), else Shift_JIS (CP932, what Excel
/// writes on Japanese Windows). A file that is neither is refused, never guessed.
pub fn decode_text(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, FileError> {
    use std::borrow::Cow;
    let without_bom = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(without_bom) {
        return Ok(Cow::Borrowed(text));
    }
    encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|c| Cow::Owned(c.into_owned()))
        .ok_or(FileError::Encoding)
}

fn csv_grid(bytes: &[u8], limits: &Limits) -> Result<Grid, FileError> {
    let text = decode_text(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut grid = GridBuilder::new(*limits);
    let mut record = csv::StringRecord::new();
    let mut row: u32 = 0;
    loop {
        let more = reader
            .read_record(&mut record)
            .map_err(|e| FileError::Csv {
                line: e.position().map_or(0, |p| p.line()),
                reason: e.to_string(),
            })?;
        if !more {
            break;
        }
        grid.touch(row)?;
        for (col, field) in record.iter().enumerate() {
            grid.put(row, col as u32, field)?;
        }
        row += 1;
    }
    Ok(grid.finish())
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
            let grid = read_grid("x.csv", &bytes, &Limits::default()).unwrap();
            assert_eq!(grid.cell(0, 0), "医療機関コード");
            assert_eq!(grid.cell(1, 1), "さくら医院");
        }
    }

    #[test]
    fn broken_input_is_refused_with_a_reason() {
        assert_eq!(
            read_grid("a.csv", b"", &Limits::default()),
            Err(FileError::Empty)
        );
        assert_eq!(
            read_grid("a.xlsx", b"just text", &Limits::default()),
            Err(FileError::NotExcel("a.xlsx".into()))
        );
        assert_eq!(
            read_grid("a.pdf", b"%PDF-1.4", &Limits::default()),
            Err(FileError::UnknownType)
        );
        // Bytes valid neither as UTF-8 nor as Shift_JIS.
        assert_eq!(
            read_grid("a.csv", &[0x82, 0xFF, 0xFF, 0x0A], &Limits::default()),
            Err(FileError::Encoding)
        );
        assert!(matches!(
            read_grid("a.xlsx", b"PK\x03\x04garbage", &Limits::default()),
            Err(FileError::Zip(_))
        ));
        assert!(matches!(
            read_grid(
                "a.xls",
                &[OLE_MAGIC, b"garbage".as_slice()].concat(),
                &Limits::default()
            ),
            Err(FileError::Excel(_))
        ));
    }

    /// A minimal BIFF8 workbook in an OLE container: one sheet holding the given
    /// numbers at (row, column).
    fn xls_with_numbers(cells: &[(u16, u16, f64)]) -> Vec<u8> {
        xls_built(&[], cells)
    }

    /// An .xls whose globals also hold `extra` (whole records).
    fn xls_built(extra: &[u8], cells: &[(u16, u16, f64)]) -> Vec<u8> {
        use std::io::Write;
        let record = |kind: u16, body: &[u8]| -> Vec<u8> {
            let mut out = kind.to_le_bytes().to_vec();
            out.extend((body.len() as u16).to_le_bytes());
            out.extend(body);
            out
        };
        let bof = |dt: u16| {
            let mut body = 0x0600u16.to_le_bytes().to_vec();
            body.extend(dt.to_le_bytes());
            body.extend([0u8; 12]);
            record(0x0809, &body)
        };
        let bound = |pos: u32| {
            let mut body = pos.to_le_bytes().to_vec();
            body.extend([0, 0, 1, 0, b'S']);
            record(0x0085, &body)
        };
        let eof = record(0x000A, &[]);
        let globals_len = bof(5).len() + extra.len() + bound(0).len() + eof.len();
        let mut stream = [
            bof(5),
            extra.to_vec(),
            bound(globals_len as u32),
            eof.clone(),
            bof(0x10),
        ]
        .concat();
        for (row, col, value) in cells {
            let mut body = row.to_le_bytes().to_vec();
            body.extend(col.to_le_bytes());
            body.extend(0u16.to_le_bytes());
            body.extend(value.to_le_bytes());
            stream.extend(record(0x0203, &body));
        }
        stream.extend(eof);
        let mut file = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
        file.create_stream("/Workbook")
            .unwrap()
            .write_all(&stream)
            .unwrap();
        file.flush().unwrap();
        file.into_inner().into_inner()
    }

    #[test]
    fn workbooks_locked_with_a_password_are_named_as_such() {
        use std::io::Write;
        // An .xls saved with a password to open: FILEPASS (0x002F) in the globals.
        let filepass = [0x2F, 0x00, 0x06, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00];
        let plain = xls_built(&[], &[(0, 0, 1.0)]);
        assert!(read_grid("a.xls", &plain, &Limits::default()).is_ok());
        let locked = xls_built(&filepass, &[(0, 0, 1.0)]);
        for result in [
            read_grid("a.xls", &locked, &Limits::default()).map(|_| ()),
            read_named_sheet("a.xls", &locked, "S", &Limits::default()).map(|_| ()),
        ] {
            assert_eq!(result, Err(FileError::Encrypted));
        }
        // An .xlsx with a password is an OLE container holding the encrypted package.
        let mut file = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
        for stream in ["/EncryptionInfo", "/EncryptedPackage"] {
            file.create_stream(stream)
                .unwrap()
                .write_all(&[0u8; 600])
                .unwrap();
        }
        file.flush().unwrap();
        let encrypted_xlsx = file.into_inner().into_inner();
        assert_eq!(
            read_grid("a.xlsx", &encrypted_xlsx, &Limits::default()),
            Err(FileError::Encrypted)
        );
        assert!(FileError::Encrypted.to_string().contains("パスワード"));
    }

    #[test]
    fn xls_cells_keep_their_place_and_far_cells_are_refused() {
        let bytes = xls_with_numbers(&[(2, 1, 7.0), (3, 4, 12.5)]);
        let grid = read_grid("a.xls", &bytes, &Limits::default()).unwrap();
        assert_eq!(grid.cell(2, 1), "7");
        assert_eq!(grid.cell(3, 4), "12.5");
        assert_eq!(grid.cell(0, 0), "");
        assert_eq!(grid.height(), 4);
        let bomb = xls_with_numbers(&[(0, 0, 1.0), (65535, 255, 1.0)]);
        assert_eq!(
            read_grid("bomb.xls", &bomb, &Limits::default()),
            Err(FileError::SheetAreaTooLarge(xls_scan::MAX_AREA_CELLS))
        );
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
            let _ = read_grid("fuzz.xlsx", &bytes, &Limits::default());
            let _ = read_grid("fuzz.csv", &bytes, &Limits::default());
        }
    }
}
