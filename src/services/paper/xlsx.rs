//! The Excel 調査票: one institution's workbook, or a ZIP of many (a health center's
//! paper reporters), pre-printed like the printed forms.

use std::io::Write;

use super::PaperError;
use super::forms::{self, Forms, Whose};
use crate::db::DbConnection;
use crate::domain::auth::Scope;
use crate::domain::paper_form;
use crate::export::form_xlsx::{self, FormHeader};
use crate::services::catalogs::Catalogs;

/// A file to hand over: its name and bytes.
pub struct FormFile {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

fn workbooks(forms: &Forms, key: &[u8]) -> Result<Vec<(String, Vec<u8>)>, PaperError> {
    let fy = forms.fiscal_year;
    forms
        .forms
        .iter()
        .map(|f| {
            let rows = paper_form::rows(&forms.catalog, &f.answers, &f.ndb);
            let checksum = paper_form::checksum(key, fy, &f.card.code, &forms.catalog.version);
            let header = FormHeader {
                fiscal_year: fy,
                code: &f.card.code,
                name: &f.card.name,
                address: &f.card.address,
                catalog_version: &forms.catalog.version,
                checksum: &checksum,
            };
            let bytes = form_xlsx::workbook(&header, &rows)
                .map_err(|e| PaperError::Invalid(format!("調査票を作れませんでした: {e}")))?;
            Ok((format!("調査票_{fy}_{}.xlsx", f.card.code), bytes))
        })
        .collect()
}

/// The forms as one .xlsx (one institution) or a .zip of them (several).
pub fn files(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    scope: Scope,
    fiscal_year: i32,
    whose: Whose,
) -> Result<FormFile, PaperError> {
    let forms = forms::prefilled(conn, catalogs, scope, fiscal_year, whose)?;
    let key = crate::db::links::key(conn)?;
    let mut books = workbooks(&forms, &key)?;
    if let Whose::One(_) = whose
        && let Some((file_name, bytes)) = books.pop()
    {
        return Ok(FormFile { file_name, bytes });
    }
    if books.is_empty() {
        return Err(PaperError::Invalid(
            "紙報告の医療機関がありません。医療機関の検索で紙報告にしてください。".into(),
        ));
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let io = |e: std::io::Error| PaperError::Invalid(format!("ZIP を作れませんでした: {e}"));
    for (name, bytes) in &books {
        zip.start_file(name.as_str(), options)
            .map_err(|e| PaperError::Invalid(format!("ZIP を作れませんでした: {e}")))?;
        zip.write_all(bytes).map_err(io)?;
    }
    let bytes = zip
        .finish()
        .map_err(|e| PaperError::Invalid(format!("ZIP を作れませんでした: {e}")))?
        .into_inner();
    Ok(FormFile {
        file_name: format!("調査票_{fiscal_year}_{}件.zip", books.len()),
        bytes,
    })
}
