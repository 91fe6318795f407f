//! `kakari publish`, `kakari unpublish`, `kakari import population` and
//! `kakari export tables|public`: the same services as the administrator's pages.

use std::path::Path;

use crate::db::Pool;
use crate::domain::auth::Scope;
use crate::domain::export::{FileFormat, TextEncoding};
use crate::domain::publication::TableBy;
use crate::services::By;
use crate::services::catalogs::Catalogs;
use crate::services::publication as service;

use super::export::{ExportAction, with_sheet};

fn by(
    conn: &mut crate::db::DbConnection,
    prefecture: Option<&str>,
) -> Result<(i32, By<'static>), String> {
    let id = crate::cli::prefecture_id(conn, prefecture)?;
    Ok((
        id,
        By::System {
            name: "kakari",
            scope: Scope::Prefecture(id),
        },
    ))
}

pub fn publish(pool: &Pool, fy: i32, prefecture: Option<&str>) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let (id, by) = by(&mut conn, prefecture)?;
    let built =
        service::publish(&mut conn, &Catalogs::default(), by, id, fy).map_err(|e| e.to_string())?;
    crate::services::changed(&mut conn, &[crate::db::changes::Counter::Reports])
        .map_err(|e| e.to_string())?;
    println!(
        "{}を公表しました: 確認済の報告 {} 機関。集計表で伏せた欄: 値や規則によるもの {}、計算で求められないよう伏せたもの {}",
        crate::domain::wareki::fiscal_year_label(fy),
        built.institutions,
        built.tables.primaries,
        built.tables.complements
    );
    Ok(())
}

pub fn unpublish(pool: &Pool, fy: i32, prefecture: Option<&str>) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let (id, by) = by(&mut conn, prefecture)?;
    let label = crate::domain::wareki::fiscal_year_label(fy);
    if service::unpublish(&mut conn, by, id, fy).map_err(|e| e.to_string())? {
        println!("{label}の公表を取り下げました");
        Ok(())
    } else {
        Err(format!("{label}は公表されていません"))
    }
}

pub fn import_population(pool: &Pool, file: &Path, prefecture: Option<&str>) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{} を読めません: {e}", file.display()))?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let (id, by) = by(&mut conn, prefecture)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match service::import_population(&mut conn, by, id, &name, &bytes) {
        Ok(rows) => {
            println!("{rows} 市区町村の人口を取り込みました");
            Ok(())
        }
        Err(service::PublicationError::Population(problems)) => Err(format!(
            "人口のファイルに誤りがあります（何も取り込んでいません）:\n{}",
            problems.join("\n")
        )),
        Err(e) => Err(e.to_string()),
    }
}

fn read_format(encoding: &str, format: &str) -> Result<(TextEncoding, FileFormat), String> {
    let encoding = TextEncoding::from_code(encoding)
        .ok_or_else(|| format!("--encoding {encoding}: utf-8-bom, utf-8, cp932 のいずれか"))?;
    let format = FileFormat::from_code(format)
        .ok_or_else(|| format!("--format {format}: csv または xlsx"))?;
    Ok((encoding, format))
}

pub fn export(action: ExportAction, pool: &Pool) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    match action {
        ExportAction::Tables {
            fy,
            by: table,
            raw,
            encoding,
            format,
            prefecture,
            output,
        } => {
            let table = TableBy::from_code(&table).ok_or_else(|| {
                format!("--by {table}: area, municipality, medical-area のいずれか")
            })?;
            let (encoding, format) = read_format(&encoding, &format)?;
            let (id, by) = by(&mut conn, prefecture.as_deref())?;
            let (_, tables, rules) = service::published_tables(&mut conn, by, id, fy, raw)
                .map_err(|e| match e {
                    service::PublicationError::NotFound => format!(
                        "{}は公表されていません（kakari publish --fy {fy}）",
                        crate::domain::wareki::fiscal_year_label(fy)
                    ),
                    e => e.to_string(),
                })?;
            let summary = with_sheet(&output, format, encoding, table.label(), 1, |sheet| {
                service::write_tables(&tables, table, &rules, raw, sheet).map_err(|e| e.to_string())
            })?;
            eprintln!(
                "{}の集計表（{}）{} 行を書き出しました{}",
                crate::domain::wareki::fiscal_year_label(fy),
                table.label(),
                summary.rows,
                if raw {
                    "（伏せ字なし・確認用。公表しないでください）"
                } else {
                    ""
                }
            );
            Ok(())
        }
        ExportAction::Public {
            fy,
            encoding,
            format,
            prefecture,
            output,
        } => {
            let (encoding, format) = read_format(&encoding, &format)?;
            let (id, _) = by(&mut conn, prefecture.as_deref())?;
            let publication = crate::db::publication::publication(&mut conn, id, fy)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!(
                        "{}は公表されていません",
                        crate::domain::wareki::fiscal_year_label(fy)
                    )
                })?;
            let catalog = Catalogs::default()
                .current(&mut conn, fy)
                .map_err(|e| e.to_string())?;
            let summary = with_sheet(&output, format, encoding, "公表用", 1, |sheet| {
                service::write_public(&mut conn, &catalog, publication.id, sheet)
                    .map_err(|e| e.to_string())
            })?;
            eprintln!(
                "公表用CSV {} 行 × {} 列を書き出しました",
                summary.rows, summary.columns
            );
            Ok(())
        }
        ExportAction::Reports { .. } => Err("unreachable export".into()),
    }
}
