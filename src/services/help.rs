//! お知らせ, よくある質問 and 静的コンテンツ: administrators write them for their
//! prefecture (each change audited); institutions read them on their home page, the
//! sign-in page and ヘルプ, and download the manuals.

use chrono::NaiveDateTime;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Actor, Failure, Kind};
use crate::db::audit::{self, Action};
use crate::db::help::{self as store, DocumentRow, FaqRow, NoticeRow};
use crate::db::{self, DbConnection, DbError};
use crate::domain::auth::Scope;
use crate::domain::help::{self as rules, DocumentProblem, FaqInput, FieldErrors, NoticeInput};
use crate::domain::wareki;

#[derive(Debug, thiserror::Error)]
pub enum HelpError {
    #[error("入力内容を確かめてください")]
    Fields(FieldErrors),
    #[error("{0}")]
    Document(#[from] DocumentProblem),
    #[error("見つかりません")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

db_errors!(HelpError);

impl Failure for HelpError {
    fn kind(&self) -> Kind {
        match self {
            HelpError::Fields(_) | HelpError::Document(_) => Kind::Invalid,
            HelpError::NotFound => Kind::NotFound,
            HelpError::Db(e) => e.kind(),
        }
    }
}

/// The prefecture whose content a reader sees; `None` (every prefecture) for a system
/// administrator and for the sign-in page.
pub fn reader_prefecture(
    conn: &mut DbConnection,
    scope: Option<Scope>,
) -> Result<Option<i32>, HelpError> {
    match scope {
        None | Some(Scope::All) => Ok(None),
        Some(scope) => Ok(crate::db::users::prefecture_of(conn, scope)?),
    }
}

/// The prefecture an administrator writes for (a system administrator: the first).
fn editor_prefecture(conn: &mut DbConnection, scope: Scope) -> Result<i32, HelpError> {
    let found = match scope {
        Scope::All => db::areas::prefectures(conn)?.first().map(|p| p.id),
        scope => crate::db::users::prefecture_of(conn, scope)?,
    };
    found.ok_or(HelpError::NotFound)
}

fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    prefecture_id: i32,
    (what, id, change): (&'static str, i32, &str),
    title: &str,
) -> Result<(), HelpError> {
    let detail = serde_json::json!({ "what": what, "change": change, "title": title });
    let entry = actor.entry(what, id, Some(prefecture_id), Some(detail));
    audit::record(conn, Action::HelpContentChange, entry)?;
    Ok(())
}

/// A notice as pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeView {
    pub row: NoticeRow,
    /// 令和 dates of its first and last day.
    pub from_label: String,
    pub until_label: Option<String>,
    /// 掲載中 / 掲載前 / 掲載終了.
    pub state: &'static str,
    /// The typed dates, for the edit form.
    pub from_date: String,
    pub until_date: String,
}

fn view(row: NoticeRow, now: NaiveDateTime) -> NoticeView {
    let first = wareki::to_jst(row.publish_from).date_naive();
    // The stored end is the start of the day after the last.
    let last = row
        .publish_until
        .map(|u| wareki::to_jst(u).date_naive() - chrono::Duration::days(1));
    let state = if rules::is_shown(now, row.publish_from, row.publish_until) {
        "掲載中"
    } else if now < row.publish_from {
        "掲載前"
    } else {
        "掲載終了"
    };
    NoticeView {
        from_label: wareki::date_wareki(first),
        until_label: last.map(wareki::date_wareki),
        from_date: first.to_string(),
        until_date: last.map(|d| d.to_string()).unwrap_or_default(),
        state,
        row,
    }
}

/// The notices showing now: on an institution's home page (`login_page` false) or on
/// the sign-in page (those marked for it).
pub fn notices_shown(
    conn: &mut DbConnection,
    prefecture: Option<i32>,
    login_page: bool,
    now: NaiveDateTime,
) -> Result<Vec<NoticeView>, HelpError> {
    Ok(store::notices_shown(conn, prefecture, login_page, now, 20)?
        .into_iter()
        .map(|r| view(r, now))
        .collect())
}

/// Every notice of the administrator's prefecture.
pub fn notices(
    conn: &mut DbConnection,
    scope: Scope,
    now: NaiveDateTime,
) -> Result<Vec<NoticeView>, HelpError> {
    let prefecture = editor_prefecture(conn, scope)?;
    Ok(store::notices_of(conn, prefecture)?
        .into_iter()
        .map(|r| view(r, now))
        .collect())
}

pub fn notice(
    conn: &mut DbConnection,
    scope: Scope,
    id: i32,
    now: NaiveDateTime,
) -> Result<NoticeView, HelpError> {
    let prefecture = editor_prefecture(conn, scope)?;
    store::notice(conn, prefecture, id)?
        .map(|r| view(r, now))
        .ok_or(HelpError::NotFound)
}

/// Adds (`id` None) or changes a notice; its id.
pub fn save_notice(
    conn: &mut DbConnection,
    actor: &Actor,
    id: Option<i32>,
    input: &NoticeInput,
    now: NaiveDateTime,
) -> Result<i32, HelpError> {
    let notice = input.read().map_err(HelpError::Fields)?;
    let prefecture = editor_prefecture(conn, actor.scope)?;
    db::write_transaction(conn, |conn| {
        let saved = store::save_notice(conn, id, prefecture, &notice, actor.user_id, now)?
            .ok_or(HelpError::NotFound)?;
        let change = if id.is_some() { "update" } else { "create" };
        record(
            conn,
            actor,
            prefecture,
            ("notice", saved, change),
            &notice.title,
        )?;
        Ok(saved)
    })
}

pub fn delete_notice(conn: &mut DbConnection, actor: &Actor, id: i32) -> Result<(), HelpError> {
    let prefecture = editor_prefecture(conn, actor.scope)?;
    db::write_transaction(conn, |conn| {
        let title = store::notice(conn, prefecture, id)?
            .ok_or(HelpError::NotFound)?
            .title;
        store::delete_notice(conn, prefecture, id)?;
        record(conn, actor, prefecture, ("notice", id, "delete"), &title)
    })
}

/// Questions of one category.
#[derive(Debug, Clone, Serialize)]
pub struct Category {
    pub name: String,
    pub entries: Vec<FaqRow>,
}

/// The questions a reader sees, by category; only those holding every word of `query`.
pub fn faqs(
    conn: &mut DbConnection,
    prefecture: Option<i32>,
    query: &str,
) -> Result<Vec<Category>, HelpError> {
    let words = rules::search_words(query);
    let mut out: Vec<Category> = Vec::new();
    for row in store::faqs_of(conn, prefecture, &words)? {
        match out.last_mut() {
            Some(c) if c.name == row.category => c.entries.push(row),
            _ => out.push(Category {
                name: row.category.clone(),
                entries: vec![row],
            }),
        }
    }
    Ok(out)
}

pub fn editor_faqs(conn: &mut DbConnection, scope: Scope) -> Result<Vec<Category>, HelpError> {
    let prefecture = editor_prefecture(conn, scope)?;
    faqs(conn, Some(prefecture), "")
}

pub fn faq(conn: &mut DbConnection, scope: Scope, id: i32) -> Result<FaqRow, HelpError> {
    let prefecture = editor_prefecture(conn, scope)?;
    store::faq(conn, prefecture, id)?.ok_or(HelpError::NotFound)
}

pub fn save_faq(
    conn: &mut DbConnection,
    actor: &Actor,
    id: Option<i32>,
    input: &FaqInput,
    now: NaiveDateTime,
) -> Result<i32, HelpError> {
    let faq = input.read().map_err(HelpError::Fields)?;
    let prefecture = editor_prefecture(conn, actor.scope)?;
    db::write_transaction(conn, |conn| {
        let saved = store::save_faq(conn, id, prefecture, &faq, now)?.ok_or(HelpError::NotFound)?;
        let change = if id.is_some() { "update" } else { "create" };
        record(
            conn,
            actor,
            prefecture,
            ("faq", saved, change),
            &faq.question,
        )?;
        Ok(saved)
    })
}

pub fn delete_faq(conn: &mut DbConnection, actor: &Actor, id: i32) -> Result<(), HelpError> {
    let prefecture = editor_prefecture(conn, actor.scope)?;
    db::write_transaction(conn, |conn| {
        let question = store::faq(conn, prefecture, id)?
            .ok_or(HelpError::NotFound)?
            .question;
        store::delete_faq(conn, prefecture, id)?;
        record(conn, actor, prefecture, ("faq", id, "delete"), &question)
    })
}

/// A manual as typed on the upload form.
pub struct NewDocument<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub file_name: &'a str,
    pub bytes: &'a [u8],
}

/// Checks what the file is (its extension and contents must agree) and stores it in
/// chunks, all or nothing.
pub fn upload_document(
    conn: &mut DbConnection,
    actor: &Actor,
    new: &NewDocument,
    now: NaiveDateTime,
) -> Result<i32, HelpError> {
    let mut errors = FieldErrors::new();
    let title = new.title.trim().to_string();
    let title = if title.is_empty() {
        // The file's name without its extension, as people expect.
        let stored = rules::stored_file_name(new.file_name);
        stored
            .rsplit_once('.')
            .map_or(stored.clone(), |(stem, _)| stem.to_string())
    } else {
        title
    };
    if title.chars().count() > 100 {
        errors.insert("title", "表題は100文字以内で入力してください".into());
    }
    let description = new.description.trim().to_string();
    if description.chars().count() > 500 {
        errors.insert("description", "説明は500文字以内で入力してください".into());
    }
    let kind = rules::document_kind(new.file_name, new.bytes);
    if let Err(problem) = &kind {
        errors.insert("file", problem.to_string());
    }
    if !errors.is_empty() {
        return Err(HelpError::Fields(errors));
    }
    let kind = kind?;
    let sha256 = format!("{:x}", Sha256::digest(new.bytes));
    let prefecture = editor_prefecture(conn, actor.scope)?;
    let file_name = rules::stored_file_name(new.file_name);
    db::write_transaction(conn, |conn| {
        let id = store::insert_document(
            conn,
            &store::NewDocument {
                prefecture_id: prefecture,
                title: &title,
                description: &description,
                file_name: &file_name,
                content_type: kind.content_type(),
                sha256: &sha256,
                created_by: actor.user_id,
                created_at: now,
            },
            new.bytes,
        )?;
        record(conn, actor, prefecture, ("document", id, "create"), &title)?;
        Ok(id)
    })
}

pub fn delete_document(conn: &mut DbConnection, actor: &Actor, id: i32) -> Result<(), HelpError> {
    let prefecture = editor_prefecture(conn, actor.scope)?;
    db::write_transaction(conn, |conn| {
        let title = store::document(conn, Some(prefecture), id)?
            .ok_or(HelpError::NotFound)?
            .title;
        store::delete_document(conn, prefecture, id)?;
        record(conn, actor, prefecture, ("document", id, "delete"), &title)
    })
}

pub fn documents(
    conn: &mut DbConnection,
    prefecture: Option<i32>,
) -> Result<Vec<DocumentRow>, HelpError> {
    Ok(store::documents_of(conn, prefecture)?)
}

pub fn editor_documents(
    conn: &mut DbConnection,
    scope: Scope,
) -> Result<Vec<DocumentRow>, HelpError> {
    let prefecture = editor_prefecture(conn, scope)?;
    documents(conn, Some(prefecture))
}

pub fn document(
    conn: &mut DbConnection,
    prefecture: Option<i32>,
    id: i32,
) -> Result<DocumentRow, HelpError> {
    store::document(conn, prefecture, id)?.ok_or(HelpError::NotFound)
}
