//! Text as Japanese offices type it: full-width digits and hyphens, era dates, postcodes
//! glued to addresses, hiragana where the record has katakana.

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;

/// NFKC: full-width ASCII to half-width, half-width katakana to full-width, and the
/// compatibility characters (①, ㈱ …) to their plain forms.
pub fn nfkc(text: &str) -> String {
    text.nfkc().collect()
}

/// Folds every dash-like character people use in numbers and addresses to `-`.
fn fold_dashes(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | 'ｰ' | '－' => '-',
            _ => c,
        })
        .collect()
}

/// The key a name is searched by: width-, case- and spacing-insensitive, and katakana
/// folded to hiragana, so that 「ｻｸﾗ」, 「さくら」 and 「サクラ」 all find 「サクラ内科」.
pub fn search_key(text: &str) -> String {
    nfkc(text)
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '・' | '･' | '.' | '-' | 'ー' | '　'))
        .map(|c| match c {
            // Katakana ァ..ヶ → hiragana ぁ..ゖ.
            'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            _ => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The distinct two-character windows of a search key, in order of first appearance.
/// Every key that contains a query of two or more characters also contains all of the
/// query's windows, which is what lets the name index narrow a search.
pub fn key_grams(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut seen = std::collections::HashSet::new();
    chars
        .windows(2)
        .map(|w| w.iter().collect::<String>())
        .filter(|g| seen.insert(g.clone()))
        .collect()
}

/// Digits of a number as typed: full-width digits, commas and spaces accepted.
/// `None` when anything else is there.
pub fn digits(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in nfkc(text).chars() {
        match c {
            '0'..='9' => out.push(c),
            ',' | ' ' => {}
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Trims, turns full-width spaces inside a value into half-width ones, and collapses
/// runs of spaces, keeping the characters otherwise as typed.
pub fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.trim().chars() {
        if c.is_whitespace() {
            if !space && !out.is_empty() {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out.trim_end().to_string()
}

/// Splits `〒910－0006福井市中央１－９－３０` (the postcode may also stand on its own
/// line) into (`910-0006`, `福井市中央１－９－３０`). Without a postcode the whole text is
/// the address.
pub fn split_postcode(text: &str) -> (Option<String>, String) {
    let text = text.trim();
    let Some(rest) = text.strip_prefix('〒') else {
        return (None, text.replace(['\n', '\r'], ""));
    };
    let folded: Vec<char> = fold_dashes(&nfkc(rest)).chars().collect();
    // Postcode: 3 digits, optional dash, 4 digits, measured on the folded text; the
    // original characters after it are kept as the address.
    let mut digits_seen = String::new();
    let mut consumed = 0;
    for c in &folded {
        if digits_seen.len() == 7 {
            break;
        }
        match c {
            '0'..='9' => digits_seen.push(*c),
            '-' if digits_seen.len() == 3 => {}
            ' ' => {}
            _ => break,
        }
        consumed += 1;
    }
    if digits_seen.len() != 7 {
        return (None, text.replace(['\n', '\r'], ""));
    }
    // NFKC keeps one character per character for these inputs (digits, dashes, spaces),
    // so the count of consumed characters maps back onto the original text.
    let address: String = rest.chars().skip(consumed).collect();
    let postcode = format!("{}-{}", &digits_seen[..3], &digits_seen[3..]);
    (Some(postcode), address.trim().replace(['\n', '\r'], ""))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("日付「{0}」を読み取れません（例: 昭38. 5. 1、令和2年10月1日、2020-10-01）")]
pub struct DateError(pub String);

/// Reads the dates of the bureau files and of people: `昭38. 5. 1`, `平 3. 4. 1`,
/// `令元. 5. 1`, `令和2年10月1日`, `S38.5.1`, `2020-10-01`, `2020/10/1`.
pub fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    let err = || DateError(text.trim().to_string());
    let folded: String = nfkc(text).chars().filter(|c| !c.is_whitespace()).collect();
    if folded.is_empty() {
        return Err(err());
    }
    let eras: [(&[&str], i32); 5] = [
        (&["令和", "令", "R", "r"], 2019),
        (&["平成", "平", "H", "h"], 1989),
        (&["昭和", "昭", "S", "s"], 1926),
        (&["大正", "大", "T", "t"], 1912),
        (&["明治", "明", "M", "m"], 1868),
    ];
    let (base, rest) = eras
        .iter()
        .find_map(|(names, start)| {
            names
                .iter()
                .find_map(|n| folded.strip_prefix(n))
                .map(|rest| (Some(*start), rest.to_string()))
        })
        .unwrap_or((None, folded.clone()));
    let rest = rest.replace('元', "1");
    let parts: Vec<&str> = rest
        .split(['.', '/', '-', '年', '月', '日'])
        .filter(|p| !p.is_empty())
        .collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(err());
    };
    let (y, m, d): (i32, u32, u32) = (
        y.parse().map_err(|_| err())?,
        m.parse().map_err(|_| err())?,
        d.parse().map_err(|_| err())?,
    );
    let year = match base {
        Some(start) if (1..=99).contains(&y) => start + y - 1,
        Some(_) => return Err(err()),
        None if y >= 1868 => y,
        None => return Err(err()),
    };
    NaiveDate::from_ymd_opt(year, m, d).ok_or_else(err)
}

/// First characters that make Excel or LibreOffice read a cell as a formula; the
/// full-width forms count, because both convert them when a CSV is opened.
const FORMULA_STARTS: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// A plain number (`-12`, `+3.5`): harmless, and it must stay a number in Excel.
fn is_plain_number(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// A cell value safe to open in Excel: text that would start a formula gets a leading
/// apostrophe (OWASP "CSV injection"). Every CSV export writes its cells through this.
pub fn excel_safe(text: &str) -> String {
    if needs_formula_guard(text) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// Whether [`excel_safe`] would guard this text (for writers that avoid copying).
pub fn needs_formula_guard(text: &str) -> bool {
    text.starts_with(FORMULA_STARTS) && !is_plain_number(text)
}

/// Undoes [`excel_safe`] on a cell read back from a file: an apostrophe in front of a
/// formula character is the guard our export added, not data.
pub fn excel_unguard(text: &str) -> &str {
    match text.strip_prefix('\'') {
        // Only what the export would have guarded: a typed `'-12` stays as typed.
        Some(rest) if rest.starts_with(FORMULA_STARTS) && !is_plain_number(rest) => rest,
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn era_dates_as_the_bureau_prints_them() {
        let cases = [
            ("昭38. 5. 1", d(1963, 5, 1)),
            ("平 3. 4. 1", d(1991, 4, 1)),
            ("令 2.10. 1", d(2020, 10, 1)),
            ("令元. 5. 1", d(2019, 5, 1)),
            ("令和２年１０月１日", d(2020, 10, 1)),
            ("S38.5.1", d(1963, 5, 1)),
            ("2020-10-01", d(2020, 10, 1)),
            ("2020/10/1", d(2020, 10, 1)),
            ("大15.12.24", d(1926, 12, 24)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_date(text), Ok(expected), "{text}");
        }
        for bad in ["", "昭和", "令 2.13. 1", "abc", "令100.1.1", "12.3.4"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn postcodes_are_split_from_addresses() {
        assert_eq!(
            split_postcode("〒910－0006福井市中央１－９－３０"),
            (Some("910-0006".into()), "福井市中央１－９－３０".into())
        );
        assert_eq!(
            split_postcode("〒899－4332\n霧島市国分中央３丁目４５番１号"),
            (
                Some("899-4332".into()),
                "霧島市国分中央３丁目４５番１号".into()
            )
        );
        assert_eq!(
            split_postcode("鹿児島市山下町1"),
            (None, "鹿児島市山下町1".into())
        );
        assert_eq!(
            split_postcode("〒12鹿児島市"),
            (None, "〒12鹿児島市".into())
        );
    }

    #[test]
    fn key_grams_are_distinct_windows_of_two() {
        assert_eq!(key_grams("さくらさくら"), ["さく", "くら", "らさ"]);
        assert!(key_grams("あ").is_empty());
        assert!(key_grams("").is_empty());
        let name = search_key("医療法人　サクラ内科");
        let query = search_key("ｻｸﾗ内");
        let grams = key_grams(&name);
        assert!(key_grams(&query).iter().all(|g| grams.contains(g)));
    }

    #[test]
    fn search_keys_fold_width_kana_and_spaces() {
        let k = search_key("サクラ内科　クリニック");
        assert_eq!(k, "さくら内科くりにっく");
        assert!(k.contains(&search_key("ｻｸﾗ")));
        assert!(k.contains(&search_key("さくら 内科")));
        assert_eq!(search_key("ＡＢＣ"), "abc");
    }

    #[test]
    fn numbers_and_tidy_text() {
        assert_eq!(digits("１２,３４５"), Some("12345".into()));
        assert_eq!(digits("12a"), None);
        assert_eq!(tidy("  医療法人　田中会  "), "医療法人 田中会");
        assert_eq!(excel_safe("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(excel_safe("＝ＳＵＭ(A1)"), "'＝ＳＵＭ(A1)");
        assert_eq!(excel_safe("＋1 医院"), "'＋1 医院");
        assert_eq!(excel_safe("－cmd"), "'－cmd");
        assert_eq!(excel_safe("＠SUM(1)"), "'＠SUM(1)");
        assert_eq!(excel_safe("-1+cmd|' /C calc'!A0"), "'-1+cmd|' /C calc'!A0");
        // Numbers stay numbers.
        assert_eq!(excel_safe("-12"), "-12");
        assert_eq!(excel_safe("+3.5"), "+3.5");
        // What the export guarded comes back as it was; other apostrophes stay.
        for text in [
            "=SUM(A1)",
            "+1 医院1",
            "＝1",
            "@x",
            "-1+1",
            "'quoted",
            "田中",
            "-12",
        ] {
            assert_eq!(excel_unguard(&excel_safe(text)), text, "{text}");
        }
        assert_eq!(excel_unguard("'note"), "'note");
        assert_eq!(excel_unguard("'-12"), "'-12");
        assert_eq!(excel_safe("田中"), "田中");
    }
}
