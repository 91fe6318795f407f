//! お知らせ, よくある質問 and 静的コンテンツ (seed 003): the forms as typed and their
//! checks, when a notice shows, and what an uploaded manual really is. Pure.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};

use super::normalize::{nfkc, parse_date, search_key};
use super::wareki::jst;

pub type FieldErrors = BTreeMap<&'static str, String>;

/// Text typed into a form: trimmed, required, at most `most` characters; line breaks
/// allowed only where `multiline`. Kept as typed otherwise (no NFKC: 「（」 and full-width
/// letters are how the prefecture writes).
fn text(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    label: &str,
    most: usize,
    multiline: bool,
) -> String {
    let value = value.replace("\r\n", "\n").trim().to_string();
    let bad_control = value
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\t')));
    if value.is_empty() {
        errors.insert(field, format!("{label}を入力してください"));
    } else if value.chars().count() > most {
        errors.insert(field, format!("{label}は{most}文字以内で入力してください"));
    } else if bad_control {
        errors.insert(field, format!("{label}に使えない文字が含まれています"));
    }
    value
}

/// The start of a Japanese day, as UTC.
fn jst_midnight(date: NaiveDate) -> Option<NaiveDateTime> {
    jst()
        .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|t| t.naive_utc())
}

/// A notice as typed (kept, so a refused form comes back as it was).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeInput {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// The first day it shows (Japan time), `2027-01-05` or `令和9年1月5日`.
    #[serde(default)]
    pub from: String,
    /// The last day it shows; empty for no end.
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub important: Option<String>,
    #[serde(default)]
    pub on_login: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
    pub important: bool,
    pub on_login: bool,
    /// UTC: the start of the first day in Japan.
    pub publish_from: NaiveDateTime,
    /// UTC: the end of the last day in Japan (the next day's start).
    pub publish_until: Option<NaiveDateTime>,
}

impl NoticeInput {
    pub fn read(&self) -> Result<Notice, FieldErrors> {
        let mut errors = FieldErrors::new();
        let title = text(&mut errors, "title", &self.title, "件名", 100, false);
        let body = text(&mut errors, "body", &self.body, "本文", 4000, true);
        let day =
            |errors: &mut FieldErrors, field: &'static str, value: &str| match parse_date(value)
                .ok()
                .and_then(|d| Some((d, jst_midnight(d)?)))
            {
                Some(found) => Some(found),
                None => {
                    errors.insert(
                        field,
                        "日付を 2027-01-05 または 令和9年1月5日 の形で入力してください".into(),
                    );
                    None
                }
            };
        let from = day(&mut errors, "from", &self.from);
        let until = match self.until.trim() {
            "" => None,
            typed => day(&mut errors, "until", typed),
        };
        if let (Some((first, _)), Some((last, _))) = (from, until)
            && last < first
        {
            errors.insert(
                "until",
                "掲載の終了日は開始日と同じか後の日にしてください".into(),
            );
        }
        match from {
            Some((_, publish_from)) if errors.is_empty() => Ok(Notice {
                title,
                body,
                important: self.important.is_some(),
                on_login: self.on_login.is_some(),
                publish_from,
                publish_until: until.map(|(_, start)| start + Duration::days(1)),
            }),
            _ => Err(errors),
        }
    }
}

/// Whether a notice shows at `now` (UTC).
pub fn is_shown(
    now: NaiveDateTime,
    publish_from: NaiveDateTime,
    publish_until: Option<NaiveDateTime>,
) -> bool {
    publish_from <= now && publish_until.is_none_or(|until| now < until)
}

/// A question as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaqInput {
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub question: String,
    #[serde(default)]
    pub answer: String,
    /// Order within the category (smaller first); empty for the end.
    #[serde(default)]
    pub position: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faq {
    pub category: String,
    pub question: String,
    pub answer: String,
    pub position: i32,
    /// Question and answer in the search's normalisation.
    pub search_key: String,
}

impl FaqInput {
    pub fn read(&self) -> Result<Faq, FieldErrors> {
        let mut errors = FieldErrors::new();
        let category = text(&mut errors, "category", &self.category, "分類", 50, false);
        let question = text(&mut errors, "question", &self.question, "質問", 500, true);
        let answer = text(&mut errors, "answer", &self.answer, "回答", 4000, true);
        let position = match nfkc(&self.position).trim() {
            "" => 999,
            typed => typed.parse::<i32>().unwrap_or_else(|_| {
                errors.insert("position", "表示順は数字で入力してください".into());
                0
            }),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Faq {
            search_key: search_key(&format!("{question}\n{answer}")),
            category,
            question,
            answer,
            position,
        })
    }
}

/// The words of a FAQ search, each in the search's normalisation; a question matches
/// when it holds every word.
pub fn search_words(query: &str) -> Vec<String> {
    nfkc(query)
        .split_whitespace()
        .map(search_key)
        .filter(|w| !w.is_empty())
        .take(5)
        .collect()
}

/// What a manual may be: the file's extension and its contents must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DocumentKind {
    Pdf,
    Xlsx,
    Xls,
    Docx,
    Doc,
}

impl DocumentKind {
    pub fn content_type(self) -> &'static str {
        match self {
            DocumentKind::Pdf => "application/pdf",
            DocumentKind::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            DocumentKind::Xls => "application/vnd.ms-excel",
            DocumentKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            DocumentKind::Doc => "application/msword",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::Pdf => "PDF",
            DocumentKind::Xlsx | DocumentKind::Xls => "Excel",
            DocumentKind::Docx | DocumentKind::Doc => "Word",
        }
    }

    pub fn from_content_type(content_type: &str) -> Option<DocumentKind> {
        [
            DocumentKind::Pdf,
            DocumentKind::Xlsx,
            DocumentKind::Xls,
            DocumentKind::Docx,
            DocumentKind::Doc,
        ]
        .into_iter()
        .find(|k| k.content_type() == content_type)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentProblem {
    #[error("登録できるのは PDF・Excel（.xlsx/.xls）・Word（.docx/.doc）のファイルです")]
    Extension,
    #[error("ファイルが空です")]
    Empty,
    #[error("ファイルの中身が拡張子（{0}）と合いません。壊れているか、別の種類のファイルです")]
    Contents(&'static str),
    #[error("パスワードで保護されたファイルは登録できません。保護を外してから登録してください")]
    Encrypted,
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// The names of the streams of an OLE container (old Office files; also the wrapper
/// of a password-protected new one).
fn ole_streams(bytes: &[u8]) -> Option<Vec<String>> {
    let file = cfb::CompoundFile::open(std::io::Cursor::new(bytes)).ok()?;
    Some(
        file.walk()
            .filter(|e| e.is_stream())
            .map(|e| e.name().to_string())
            .collect(),
    )
}

/// Whether the ZIP holds an entry of this name (the main part of an Office file).
fn zip_has(bytes: &[u8], part: &str) -> bool {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return false;
    };
    let Ok(mut entry) = archive.by_name(part) else {
        return false;
    };
    let mut head = [0u8; 16];
    entry.read(&mut head).is_ok_and(|n| n > 0)
}

/// What the uploaded file is, from its name and its bytes; never from the browser's
/// word for it.
pub fn document_kind(file_name: &str, bytes: &[u8]) -> Result<DocumentKind, DocumentProblem> {
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let kind = match extension.as_str() {
        "pdf" => DocumentKind::Pdf,
        "xlsx" => DocumentKind::Xlsx,
        "xls" => DocumentKind::Xls,
        "docx" => DocumentKind::Docx,
        "doc" => DocumentKind::Doc,
        _ => return Err(DocumentProblem::Extension),
    };
    if bytes.is_empty() {
        return Err(DocumentProblem::Empty);
    }
    let streams = bytes
        .starts_with(OLE_MAGIC)
        .then(|| ole_streams(bytes))
        .flatten();
    let fits = match kind {
        DocumentKind::Pdf => bytes.starts_with(b"%PDF-"),
        DocumentKind::Xlsx | DocumentKind::Docx => {
            if streams
                .as_ref()
                .is_some_and(|s| s.iter().any(|n| n == "EncryptedPackage"))
            {
                return Err(DocumentProblem::Encrypted);
            }
            let part = if kind == DocumentKind::Xlsx {
                "xl/workbook.xml"
            } else {
                "word/document.xml"
            };
            bytes.starts_with(ZIP_MAGIC) && zip_has(bytes, part)
        }
        DocumentKind::Xls => streams
            .as_ref()
            .is_some_and(|s| s.iter().any(|n| n == "Workbook" || n == "Book")),
        DocumentKind::Doc => streams
            .as_ref()
            .is_some_and(|s| s.iter().any(|n| n == "WordDocument")),
    };
    if fits {
        Ok(kind)
    } else {
        Err(DocumentProblem::Contents(kind.label()))
    }
}

/// A file name safe to send back in a download header: no path, no control
/// characters, at most 100 characters.
pub fn stored_file_name(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';'))
        .collect();
    let count = cleaned.chars().count();
    if count <= 100 {
        return cleaned;
    }
    // Keep the extension when shortening.
    let (stem, extension) = cleaned.rsplit_once('.').unwrap_or((&cleaned, ""));
    let stem: String = stem.chars().take(90).collect();
    format!("{stem}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(from: &str, until: &str) -> NoticeInput {
        NoticeInput {
            title: "  報告期間のお知らせ ".into(),
            body: "1月5日から受け付けます。\r\n早めにご報告ください。".into(),
            from: from.into(),
            until: until.into(),
            important: Some("1".into()),
            on_login: None,
        }
    }

    #[test]
    fn a_notice_shows_from_its_first_day_to_the_end_of_its_last_in_japan() {
        let n = notice("令和9年1月5日", "２０２７-01-31").read().unwrap();
        assert_eq!(n.title, "報告期間のお知らせ");
        assert!(n.body.contains("\n早めに") && !n.body.contains('\r'));
        assert!(n.important && !n.on_login);
        // 2027-01-05 00:00 JST is 01-04 15:00 UTC; the last day ends 02-01 00:00 JST.
        assert_eq!(n.publish_from.to_string(), "2027-01-04 15:00:00");
        let until = n.publish_until.unwrap();
        assert_eq!(until.to_string(), "2027-01-31 15:00:00");
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        assert!(!is_shown(
            at("2027-01-04 14:59"),
            n.publish_from,
            Some(until)
        ));
        assert!(is_shown(
            at("2027-01-04 15:00"),
            n.publish_from,
            Some(until)
        ));
        assert!(is_shown(
            at("2027-01-31 14:59"),
            n.publish_from,
            Some(until)
        ));
        assert!(!is_shown(
            at("2027-01-31 15:00"),
            n.publish_from,
            Some(until)
        ));
        assert!(is_shown(at("2099-01-01 00:00"), n.publish_from, None));
        assert_eq!(notice("2027-01-05", "").read().unwrap().publish_until, None);
    }

    #[test]
    fn a_wrong_notice_says_which_field() {
        let errors = notice("2027-02-01", "2027-01-31").read().unwrap_err();
        assert_eq!(errors.keys().copied().collect::<Vec<_>>(), ["until"]);
        let mut bad = notice("いつか", "");
        bad.title = "x".repeat(101);
        bad.body = " ".into();
        let errors = bad.read().unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["body", "from", "title"]
        );
        let mut control = notice("2027-01-05", "");
        control.title = "件名\u{7}".into();
        assert!(control.read().unwrap_err().contains_key("title"));
    }

    #[test]
    fn faq_entries_are_read_and_searched_in_one_normalisation() {
        let f = FaqInput {
            category: "ログイン".into(),
            question: "パスワードを忘れました".into(),
            answer: "ログイン画面の「パスワードをお忘れの方」から".into(),
            position: "２".into(),
        }
        .read()
        .unwrap();
        assert_eq!(f.position, 2);
        for word in search_words("ぱすわーど　忘れ") {
            assert!(f.search_key.contains(&word), "{word}");
        }
        assert!(search_words("  ").is_empty());
        let wrong = FaqInput {
            position: "先頭".into(),
            ..FaqInput::default()
        }
        .read()
        .unwrap_err();
        assert_eq!(
            wrong.keys().copied().collect::<Vec<_>>(),
            ["answer", "category", "position", "question"]
        );
    }

    fn zip_with(part: &str) -> Vec<u8> {
        use std::io::Write;
        let mut out = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut out);
        z.start_file(part, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"<xml/>").unwrap();
        z.finish().unwrap();
        out.into_inner()
    }

    fn ole_with(stream: &str) -> Vec<u8> {
        use std::io::Write;
        let mut file = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
        file.create_stream(stream)
            .unwrap()
            .write_all(b"data")
            .unwrap();
        file.flush().unwrap();
        file.into_inner().into_inner()
    }

    #[test]
    fn a_document_is_what_its_bytes_say_and_its_name_agrees() {
        assert_eq!(
            document_kind("手引き.PDF", b"%PDF-1.7 ..."),
            Ok(DocumentKind::Pdf)
        );
        assert_eq!(
            document_kind("様式.xlsx", &zip_with("xl/workbook.xml")),
            Ok(DocumentKind::Xlsx)
        );
        assert_eq!(
            document_kind("様式.docx", &zip_with("word/document.xml")),
            Ok(DocumentKind::Docx)
        );
        assert_eq!(
            document_kind("old.xls", &ole_with("Workbook")),
            Ok(DocumentKind::Xls)
        );
        assert_eq!(
            document_kind("old.doc", &ole_with("WordDocument")),
            Ok(DocumentKind::Doc)
        );
        // A renamed file, an executable, an empty file, a protected workbook.
        assert_eq!(
            document_kind("様式.xlsx", &zip_with("word/document.xml")),
            Err(DocumentProblem::Contents("Excel"))
        );
        assert_eq!(
            document_kind("manual.pdf", b"MZ\x90\x00"),
            Err(DocumentProblem::Contents("PDF"))
        );
        assert_eq!(
            document_kind("run.exe", b"MZ"),
            Err(DocumentProblem::Extension)
        );
        assert_eq!(document_kind("a.pdf", b""), Err(DocumentProblem::Empty));
        assert_eq!(
            document_kind("locked.xlsx", &ole_with("EncryptedPackage")),
            Err(DocumentProblem::Encrypted)
        );
        assert_eq!(
            document_kind("old.doc", &ole_with("Workbook")),
            Err(DocumentProblem::Contents("Word"))
        );
        let kind = DocumentKind::Docx;
        assert_eq!(
            DocumentKind::from_content_type(kind.content_type()),
            Some(kind)
        );
    }

    #[test]
    fn stored_names_lose_paths_and_header_breaking_characters() {
        assert_eq!(stored_file_name("C:\\Users\\a\\手引き.pdf"), "手引き.pdf");
        assert_eq!(stored_file_name("a\r\nb\";.pdf"), "ab.pdf");
        let long = format!("{}.xlsx", "あ".repeat(150));
        let stored = stored_file_name(&long);
        assert!(stored.ends_with(".xlsx") && stored.chars().count() == 95);
    }
}
