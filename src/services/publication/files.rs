//! The published year as files: the summary tables with a note under each, and the
//! 公表用CSV (one row per institution, the published items, small counts masked).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::PublicationError;
use crate::db::DbConnection;
use crate::db::publication as store;
use crate::domain::catalog::Catalog;
use crate::domain::determination::Answers;
use crate::domain::export::{Cell, FileFormat, ItemColumns, TextEncoding};
use crate::domain::institution::Category;
use crate::domain::publication::{CellMask, PublicationRules, SummaryTables, TableBy};
use crate::export::{CsvSheet, Sheet, XlsxSheet};
use crate::services::catalogs::Catalogs;
use crate::services::exports::Summary;
use crate::services::publication::public::Published;

/// One table (`by`) and the total, then a blank row and the notes. `raw` writes the
/// values under the masks, for checking: it must never be published.
pub fn write_tables(
    tables: &SummaryTables,
    by: TableBy,
    rules: &PublicationRules,
    raw: bool,
    mut sheet: Box<dyn Sheet + '_>,
) -> Result<Summary, PublicationError> {
    let grouped = by == TableBy::Municipality;
    let mut heading = vec![Cell::text(by.heading())];
    if grouped {
        heading.push(Cell::text("保健所"));
    }
    heading.extend(tables.columns.iter().map(|c| Cell::text(&c.label)));
    sheet.row(&heading)?;
    let cell = |c: &crate::domain::publication::TableCell| {
        if c.mask == CellMask::Shown || raw {
            Cell::Number(c.value as f64)
        } else {
            Cell::text(&rules.mark)
        }
    };
    let mut rows = 0;
    for row in tables.rows(by).iter().chain(std::iter::once(&tables.total)) {
        let mut cells = vec![Cell::text(&row.name)];
        if grouped {
            cells.push(row.group.as_deref().map_or(Cell::Empty, Cell::text));
        }
        cells.extend(row.cells.iter().map(cell));
        sheet.row(&cells)?;
        rows += 1;
    }
    sheet.row(&[Cell::Empty])?;
    let mut notes = rules.notes();
    notes.push(format!(
        "伏せた欄（3つの表と県全体をあわせて）: 値や規則によるもの {} 欄、引き算で求められないよう伏せたもの {} 欄。",
        tables.primaries, tables.complements
    ));
    if raw {
        notes.insert(
            0,
            "【確認用】伏せ字をしていない集計表です。公表しないでください。".into(),
        );
    }
    for note in notes {
        sheet.row(&[Cell::text(note)])?;
    }
    let replaced = sheet.finish()?;
    Ok(Summary {
        rows,
        columns: tables.columns.len() + 1 + usize::from(grouped),
        replaced,
    })
}

const FIXED: [&str; 14] = [
    "医療機関コード",
    "名称",
    "種別",
    "保健所",
    "市区町村",
    "郵便番号",
    "所在地",
    "電話番号",
    "確認日",
    "1号機能",
    "2号イ 通常の診療時間外の診療",
    "2号ロ 入退院時の支援",
    "2号ハ 在宅医療の提供",
    "2号ニ 介護サービス等と連携した医療提供",
];

/// The columns of the 公表用CSV: the fixed ones, then the published items.
pub fn public_columns(catalog: &Catalog) -> (Vec<String>, ItemColumns) {
    let items = ItemColumns::of_items(catalog.items.iter().filter(|i| i.published));
    let mut headings: Vec<String> = FIXED.iter().map(|h| h.to_string()).collect();
    headings.extend(items.columns().map(|c| c.heading.clone()));
    (headings, items)
}

/// The 公表用CSV of a publication, in code order, a chunk at a time. The counts were
/// masked when the year was published.
pub fn write_public(
    conn: &mut DbConnection,
    catalog: &Catalog,
    publication_id: i32,
    mut sheet: Box<dyn Sheet + '_>,
) -> Result<Summary, PublicationError> {
    let (headings, items) = public_columns(catalog);
    let areas: HashMap<i32, String> = crate::db::exports::area_names(conn)?;
    sheet.row(&headings.iter().map(Cell::text).collect::<Vec<_>>())?;
    let area = |id: Option<i32>| {
        id.and_then(|i| areas.get(&i))
            .map_or(Cell::Empty, Cell::text)
    };
    let mut after = String::new();
    let mut rows = 0;
    let mut cells = Vec::with_capacity(headings.len());
    loop {
        let chunk = store::public_rows_after(conn, publication_id, &after, 1000)?;
        let Some(last) = chunk.last() else { break };
        after = last.code.clone();
        let ids: Vec<i32> = chunk.iter().map(|r| r.institution_id).collect();
        let details = store::details_of(conn, publication_id, &ids)?;
        for r in &chunk {
            cells.clear();
            cells.extend([
                Cell::text(&r.code),
                Cell::text(&r.name),
                Cell::text(
                    Category::from_code(&r.category).map_or(r.category.as_str(), |c| c.label()),
                ),
                area(r.jurisdiction_id),
                area(r.municipality_id),
                r.postcode.as_deref().map_or(Cell::Empty, Cell::text),
                Cell::text(&r.address),
                r.phone.as_deref().map_or(Cell::Empty, Cell::text),
                r.confirmed_at.map_or(Cell::Empty, |t| {
                    Cell::text(
                        crate::domain::wareki::to_jst(t)
                            .format("%Y-%m-%d")
                            .to_string(),
                    )
                }),
                Cell::flag(r.function1),
                Cell::flag(r.after_hours),
                Cell::flag(r.admission_discharge),
                Cell::flag(r.home_care),
                Cell::flag(r.care_coordination),
            ]);
            let answers: Answers = details
                .get(&r.institution_id)
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or_default();
            items.cells(&answers, &mut cells);
            sheet.row(&cells)?;
            rows += 1;
        }
    }
    let replaced = sheet.finish()?;
    Ok(Summary {
        rows,
        columns: headings.len(),
        replaced,
    })
}

/// A small file written whole in memory (a summary table).
pub fn in_memory<F>(
    format: FileFormat,
    encoding: TextEncoding,
    sheet_name: &str,
    write: F,
) -> Result<Vec<u8>, PublicationError>
where
    F: for<'a> FnOnce(Box<dyn Sheet + 'a>) -> Result<Summary, PublicationError>,
{
    match format {
        FileFormat::Csv => {
            let mut bytes = Vec::new();
            write(Box::new(CsvSheet::new(&mut bytes, encoding)?))?;
            Ok(bytes)
        }
        FileFormat::Xlsx => {
            let mut cursor = std::io::Cursor::new(Vec::new());
            write(Box::new(XlsxSheet::new(&mut cursor, sheet_name, 1)?))?;
            Ok(cursor.into_inner())
        }
    }
}

/// The 公表用 file of a publication in this format, written on first asking and kept
/// under `data_dir/public/` (its name carries the publication's time, so a file of
/// an earlier publication is never served). Written to a temporary name and renamed,
/// so a reader never sees half a file.
pub fn public_file(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    data_dir: &Path,
    published: &Published,
    format: FileFormat,
    encoding: TextEncoding,
) -> Result<PathBuf, PublicationError> {
    let directory = data_dir.join("public");
    std::fs::create_dir_all(&directory)?;
    let path = directory.join(format!(
        "{}-{}-{}.{}",
        published.publication_id,
        published.stamp,
        encoding.code(),
        format.code()
    ));
    if path.exists() {
        return Ok(path);
    }
    let catalog = catalogs.current(conn, published.fiscal_year)?;
    let partial = path.with_extension(format!("part-{}", crate::export::files::new_token()));
    let file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
    let written = match format {
        FileFormat::Csv => write_public(
            conn,
            &catalog,
            published.publication_id,
            Box::new(CsvSheet::new(file, encoding)?),
        ),
        FileFormat::Xlsx => write_public(
            conn,
            &catalog,
            published.publication_id,
            Box::new(XlsxSheet::new(file, "公表用", 1)?),
        ),
    };
    match written {
        Ok(_) => std::fs::rename(&partial, &path)?,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    }
    Ok(path)
}
