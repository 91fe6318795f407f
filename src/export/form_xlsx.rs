//! The Excel 調査票 of one institution (issue 18), written with rust_xlsxwriter: the
//! rows of [`crate::domain::paper_form`] with their answer cells open and everything
//! else protected, drop-down lists of the labels as printed for choices, whole-number
//! and decimal checks for counts, and a hidden sheet naming the fiscal year, the
//! institution, the catalog version and a checksum of the three. The importer reads the
//! same constants.

use rust_xlsxwriter::{
    DataValidation, DataValidationRule, Format, FormatAlign, FormatBorder, Formula, Workbook,
    Worksheet, XlsxError,
};

use crate::domain::catalog::Kind;
use crate::domain::paper_form::{FormRow, Role};
use crate::domain::wareki;

/// The sheet people fill in.
pub const SHEET: &str = "調査票";
/// The hidden sheet identifying the form.
pub const HIDDEN: &str = "_kakari";
/// The marker in the hidden sheet's A1.
pub const MARKER: &str = "kakari-form";
/// Zero-based columns of the form's rows: item code, label, answer, unit, pre-printed
/// mark, and (hidden) what the row asks.
pub const CODE_COL: u16 = 0;
pub const ANSWER_COL: u16 = 2;
pub const ROLE_COL: u16 = 5;
/// The first row of items (zero-based; row 11 in Excel).
pub const FIRST_ROW: u32 = 10;
/// Where the institution code is shown (B3), read when the hidden sheet is lost.
pub const CODE_CELL: (u32, u16) = (2, 1);

/// Who and what the form is for.
pub struct FormHeader<'a> {
    pub fiscal_year: i32,
    pub code: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    pub catalog_version: &'a str,
    pub checksum: &'a str,
}

/// The letters of a zero-based column (A, B, … Z, AA …).
pub fn column_letters(col: u16) -> String {
    let mut n = u32::from(col) + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        out.push(char::from(b'A' + rem));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

/// 調査票!C14 for a zero-based row of the answer column.
pub fn answer_cell(row: u32) -> String {
    format!("{SHEET}!{}{}", column_letters(ANSWER_COL), row + 1)
}

struct Formats {
    title: Format,
    head: Format,
    label: Format,
    answer: Format,
    fixed: Format,
}

fn formats() -> Formats {
    let border = |f: Format| f.set_border(FormatBorder::Thin);
    Formats {
        title: Format::new().set_bold().set_font_size(14),
        head: border(Format::new().set_bold().set_background_color(0xDDE7F3)),
        label: border(Format::new().set_text_wrap().set_align(FormatAlign::Top)),
        answer: border(
            Format::new()
                .set_unlocked()
                .set_background_color(0xFFF8D6)
                .set_align(FormatAlign::Top),
        ),
        fixed: border(Format::new().set_align(FormatAlign::Top)),
    }
}

fn write_header(sheet: &mut Worksheet, h: &FormHeader, f: &Formats) -> Result<(), XlsxError> {
    sheet.set_name(SHEET)?;
    let title = format!(
        "{} かかりつけ医機能報告 調査票",
        wareki::fiscal_year_full(h.fiscal_year)
    );
    sheet.merge_range(0, 0, 0, 4, &title, &f.title)?;
    let facts = [
        ("医療機関コード", h.code.to_string()),
        ("医療機関名", h.name.to_string()),
        ("所在地", h.address.to_string()),
        ("年度", wareki::fiscal_year_full(h.fiscal_year)),
        ("報告項目", format!("カタログ {}", h.catalog_version)),
    ];
    for (n, (label, value)) in facts.iter().enumerate() {
        let row = CODE_CELL.0 + n as u32;
        sheet.write_string_with_format(row, 0, *label, &f.head)?;
        sheet.write_string_with_format(row, 1, value, &f.fixed)?;
    }
    sheet.merge_range(
        8,
        0,
        8,
        4,
        "黄色の欄に記入してください。選択肢は一覧から選び、複数選ぶ項目は選ぶものに「○」を付けます。「NDB」「前回」の印がある値はあらかじめ記入したものです。違っていれば直してください。",
        &f.label,
    )?;
    for (col, text) in ["項目", "内容・選択肢", "回答", "単位", "記入済"]
        .iter()
        .enumerate()
    {
        sheet.write_string_with_format(FIRST_ROW - 1, col as u16, *text, &f.head)?;
    }
    sheet.set_column_width(0, 9)?;
    sheet.set_column_width(1, 60)?;
    sheet.set_column_width(2, 28)?;
    sheet.set_column_width(3, 6)?;
    sheet.set_column_width(4, 8)?;
    sheet.set_column_hidden(ROLE_COL)?;
    Ok(())
}

/// The check on an answer cell, and its lists kept on the hidden sheet.
fn validation(
    row: &FormRow,
    lists: &mut Worksheet,
    list_col: &mut u16,
) -> Result<Option<DataValidation>, XlsxError> {
    let rule = match (&row.role, row.kind) {
        (Role::Choice | Role::Mark(_), _) => {
            for (n, label) in row.list.iter().enumerate() {
                lists.write_string(n as u32, *list_col, label)?;
            }
            let letters = column_letters(*list_col);
            let range = format!(
                "='{HIDDEN}'!${letters}$1:${letters}${}",
                row.list.len().max(1)
            );
            *list_col += 1;
            DataValidation::new()
                .allow_list_formula(Formula::new(range))
                .set_error_message("一覧から選んでください（選ばないときは空欄）")?
        }
        (Role::Value, Kind::Count) => DataValidation::new()
            .allow_whole_number(DataValidationRule::Between(0, 100_000_000))
            .set_error_message("0以上の整数で入力してください")?,
        (Role::Value, Kind::Decimal1) => DataValidation::new()
            .allow_decimal_number(DataValidationRule::Between(0.0, 100_000_000.0))
            .set_error_message("0以上の数で入力してください（小数点以下1桁まで）")?,
        (Role::Value, Kind::Text) | (Role::Other, _) => {
            let most = row.max_length.unwrap_or(500) as u32;
            DataValidation::new()
                .allow_text_length(DataValidationRule::LessThanOrEqualTo(most))
                .set_error_message(format!("{most}文字以内で入力してください"))?
        }
        _ => return Ok(None),
    };
    Ok(Some(rule))
}

/// The workbook's bytes.
pub fn workbook(header: &FormHeader, rows: &[FormRow]) -> Result<Vec<u8>, XlsxError> {
    let f = formats();
    let mut book = Workbook::new();
    let mut lists = Worksheet::new();
    lists.set_name(HIDDEN)?;
    let identity = [
        (MARKER, "1".to_string()),
        ("fiscal_year", header.fiscal_year.to_string()),
        ("institution", header.code.to_string()),
        ("catalog", header.catalog_version.to_string()),
        ("checksum", header.checksum.to_string()),
    ];
    for (n, (key, value)) in identity.iter().enumerate() {
        lists.write_string(n as u32, 0, *key)?;
        lists.write_string(n as u32, 1, value)?;
    }
    let mut sheet = Worksheet::new();
    write_header(&mut sheet, header, &f)?;
    let mut list_col = 3;
    for (n, row) in rows.iter().enumerate() {
        let r = FIRST_ROW + n as u32;
        sheet.write_string_with_format(r, CODE_COL, &row.item, &f.fixed)?;
        sheet.write_string_with_format(r, 1, &row.label, &f.label)?;
        match (&row.role, row.value.parse::<f64>()) {
            (Role::Value, Ok(number)) if row.kind != Kind::Text => {
                sheet.write_number_with_format(r, ANSWER_COL, number, &f.answer)?;
            }
            _ => {
                sheet.write_string_with_format(r, ANSWER_COL, &row.value, &f.answer)?;
            }
        }
        let unit = row.unit.as_deref().filter(|_| row.role == Role::Value);
        sheet.write_string_with_format(r, 3, unit.unwrap_or(""), &f.fixed)?;
        sheet.write_string_with_format(r, 4, row.preprinted.unwrap_or(""), &f.fixed)?;
        sheet.write_string(r, ROLE_COL, row.role.code())?;
        if let Some(rule) = validation(row, &mut lists, &mut list_col)? {
            sheet.add_data_validation(r, ANSWER_COL, r, ANSWER_COL, &rule)?;
        }
    }
    sheet.set_freeze_panes(FIRST_ROW, 0)?;
    sheet.set_paper_size(9);
    sheet.set_print_fit_to_pages(1, 0);
    sheet.protect();
    lists.set_hidden(true);
    lists.protect();
    book.push_worksheet(sheet);
    book.push_worksheet(lists);
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_as_excel_does() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(2), "C");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        assert_eq!(answer_cell(13), "調査票!C14");
    }
}
