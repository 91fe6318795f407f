//! お知らせ, よくある質問 and 静的コンテンツ. `prefecture` is the reader's or editor's
//! prefecture; `None` reaches every prefecture (a system administrator, the sign-in
//! page of a deployment).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{document_chunks, documents, faqs, notices};
use crate::domain::help::{Faq, Notice};

/// Bytes per stored chunk of a document: a download sends one at a time.
pub const CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = notices)]
pub struct NoticeRow {
    pub id: i32,
    pub prefecture_id: i32,
    pub title: String,
    pub body: String,
    pub important: bool,
    pub on_login: bool,
    pub publish_from: NaiveDateTime,
    pub publish_until: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

pub fn save_notice(
    conn: &mut DbConnection,
    id: Option<i32>,
    prefecture_id: i32,
    n: &Notice,
    by: i32,
    now: NaiveDateTime,
) -> QueryResult<Option<i32>> {
    let values = (
        notices::title.eq(&n.title),
        notices::body.eq(&n.body),
        notices::important.eq(n.important),
        notices::on_login.eq(n.on_login),
        notices::publish_from.eq(n.publish_from),
        notices::publish_until.eq(n.publish_until),
        notices::updated_at.eq(now),
    );
    match id {
        Some(id) => {
            let changed = diesel::update(
                notices::table
                    .filter(notices::id.eq(id))
                    .filter(notices::prefecture_id.eq(prefecture_id)),
            )
            .set(values)
            .execute(conn)?;
            Ok((changed == 1).then_some(id))
        }
        None => {
            diesel::insert_into(notices::table)
                .values((
                    values,
                    notices::prefecture_id.eq(prefecture_id),
                    notices::created_by.eq(by),
                    notices::created_at.eq(now),
                ))
                .execute(conn)?;
            notices::table
                .filter(notices::prefecture_id.eq(prefecture_id))
                .select(notices::id)
                .order(notices::id.desc())
                .first(conn)
                .map(Some)
        }
    }
}

pub fn delete_notice(conn: &mut DbConnection, prefecture_id: i32, id: i32) -> QueryResult<bool> {
    diesel::delete(
        notices::table
            .filter(notices::id.eq(id))
            .filter(notices::prefecture_id.eq(prefecture_id)),
    )
    .execute(conn)
    .map(|n| n == 1)
}

/// Every notice of the prefecture, the latest start first (the administrators' list).
pub fn notices_of(conn: &mut DbConnection, prefecture_id: i32) -> QueryResult<Vec<NoticeRow>> {
    notices::table
        .filter(notices::prefecture_id.eq(prefecture_id))
        .select(NoticeRow::as_select())
        .order((notices::publish_from.desc(), notices::id.desc()))
        .load(conn)
}

/// The notices showing at `now`, important ones first, then the latest; only those for
/// the sign-in page when `login_page`.
pub fn notices_shown(
    conn: &mut DbConnection,
    prefecture: Option<i32>,
    login_page: bool,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<NoticeRow>> {
    let mut q = notices::table
        .filter(notices::publish_from.le(now))
        .filter(
            notices::publish_until
                .is_null()
                .or(notices::publish_until.gt(now)),
        )
        .select(NoticeRow::as_select())
        .into_boxed();
    if let Some(p) = prefecture {
        q = q.filter(notices::prefecture_id.eq(p));
    }
    if login_page {
        q = q.filter(notices::on_login.eq(true));
    }
    q.order((
        notices::important.desc(),
        notices::publish_from.desc(),
        notices::id.desc(),
    ))
    .limit(limit)
    .load(conn)
}

pub fn notice(
    conn: &mut DbConnection,
    prefecture_id: i32,
    id: i32,
) -> QueryResult<Option<NoticeRow>> {
    notices::table
        .filter(notices::id.eq(id))
        .filter(notices::prefecture_id.eq(prefecture_id))
        .select(NoticeRow::as_select())
        .first(conn)
        .optional()
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = faqs)]
pub struct FaqRow {
    pub id: i32,
    pub category: String,
    pub question: String,
    pub answer: String,
    pub position: i32,
}

pub fn save_faq(
    conn: &mut DbConnection,
    id: Option<i32>,
    prefecture_id: i32,
    f: &Faq,
    now: NaiveDateTime,
) -> QueryResult<Option<i32>> {
    let values = (
        faqs::category.eq(&f.category),
        faqs::question.eq(&f.question),
        faqs::answer.eq(&f.answer),
        faqs::position.eq(f.position),
        faqs::search_key.eq(&f.search_key),
        faqs::updated_at.eq(now),
    );
    match id {
        Some(id) => {
            let changed = diesel::update(
                faqs::table
                    .filter(faqs::id.eq(id))
                    .filter(faqs::prefecture_id.eq(prefecture_id)),
            )
            .set(values)
            .execute(conn)?;
            Ok((changed == 1).then_some(id))
        }
        None => {
            diesel::insert_into(faqs::table)
                .values((values, faqs::prefecture_id.eq(prefecture_id)))
                .execute(conn)?;
            faqs::table
                .filter(faqs::prefecture_id.eq(prefecture_id))
                .select(faqs::id)
                .order(faqs::id.desc())
                .first(conn)
                .map(Some)
        }
    }
}

pub fn delete_faq(conn: &mut DbConnection, prefecture_id: i32, id: i32) -> QueryResult<bool> {
    diesel::delete(
        faqs::table
            .filter(faqs::id.eq(id))
            .filter(faqs::prefecture_id.eq(prefecture_id)),
    )
    .execute(conn)
    .map(|n| n == 1)
}

/// Questions by category and order; only those holding every word when `words`.
pub fn faqs_of(
    conn: &mut DbConnection,
    prefecture: Option<i32>,
    words: &[String],
) -> QueryResult<Vec<FaqRow>> {
    let mut q = faqs::table.select(FaqRow::as_select()).into_boxed();
    if let Some(p) = prefecture {
        q = q.filter(faqs::prefecture_id.eq(p));
    }
    for word in words {
        q = q.filter(
            faqs::search_key
                .like(format!("%{}%", escape_like(word)))
                .escape('\\'),
        );
    }
    q.order((faqs::category, faqs::position, faqs::id))
        .load(conn)
}

fn escape_like(word: &str) -> String {
    word.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub fn faq(conn: &mut DbConnection, prefecture_id: i32, id: i32) -> QueryResult<Option<FaqRow>> {
    faqs::table
        .filter(faqs::id.eq(id))
        .filter(faqs::prefecture_id.eq(prefecture_id))
        .select(FaqRow::as_select())
        .first(conn)
        .optional()
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = documents)]
pub struct DocumentRow {
    pub id: i32,
    pub prefecture_id: i32,
    pub title: String,
    pub description: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: NaiveDateTime,
}

pub struct NewDocument<'a> {
    pub prefecture_id: i32,
    pub title: &'a str,
    pub description: &'a str,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub sha256: &'a str,
    pub created_by: i32,
    pub created_at: NaiveDateTime,
}

/// Stores a document and its bytes in chunks (inside the caller's transaction).
pub fn insert_document(conn: &mut DbConnection, d: &NewDocument, bytes: &[u8]) -> QueryResult<i32> {
    diesel::insert_into(documents::table)
        .values((
            documents::prefecture_id.eq(d.prefecture_id),
            documents::title.eq(d.title),
            documents::description.eq(d.description),
            documents::file_name.eq(d.file_name),
            documents::content_type.eq(d.content_type),
            documents::size.eq(bytes.len() as i64),
            documents::sha256.eq(d.sha256),
            documents::created_by.eq(d.created_by),
            documents::created_at.eq(d.created_at),
        ))
        .execute(conn)?;
    let id: i32 = documents::table
        .filter(documents::sha256.eq(d.sha256))
        .filter(documents::created_at.eq(d.created_at))
        .select(documents::id)
        .order(documents::id.desc())
        .first(conn)?;
    for (seq, chunk) in bytes.chunks(CHUNK).enumerate() {
        diesel::insert_into(document_chunks::table)
            .values((
                document_chunks::document_id.eq(id),
                document_chunks::seq.eq(seq as i32),
                document_chunks::data.eq(chunk),
            ))
            .execute(conn)?;
    }
    Ok(id)
}

pub fn documents_of(
    conn: &mut DbConnection,
    prefecture: Option<i32>,
) -> QueryResult<Vec<DocumentRow>> {
    let mut q = documents::table
        .select(DocumentRow::as_select())
        .into_boxed();
    if let Some(p) = prefecture {
        q = q.filter(documents::prefecture_id.eq(p));
    }
    q.order((documents::title, documents::id)).load(conn)
}

pub fn document(
    conn: &mut DbConnection,
    prefecture: Option<i32>,
    id: i32,
) -> QueryResult<Option<DocumentRow>> {
    let mut q = documents::table
        .filter(documents::id.eq(id))
        .select(DocumentRow::as_select())
        .into_boxed();
    if let Some(p) = prefecture {
        q = q.filter(documents::prefecture_id.eq(p));
    }
    q.first(conn).optional()
}

/// One chunk of a document's bytes; `None` past the last.
pub fn chunk(conn: &mut DbConnection, id: i32, seq: i32) -> QueryResult<Option<Vec<u8>>> {
    document_chunks::table
        .filter(document_chunks::document_id.eq(id))
        .filter(document_chunks::seq.eq(seq))
        .select(document_chunks::data)
        .first(conn)
        .optional()
}

/// Deletes a document of the prefecture with its bytes (inside the caller's
/// transaction); false when the prefecture has no such document.
pub fn delete_document(conn: &mut DbConnection, prefecture_id: i32, id: i32) -> QueryResult<bool> {
    if document(conn, Some(prefecture_id), id)?.is_none() {
        return Ok(false);
    }
    diesel::delete(document_chunks::table.filter(document_chunks::document_id.eq(id)))
        .execute(conn)?;
    diesel::delete(documents::table.filter(documents::id.eq(id)))
        .execute(conn)
        .map(|n| n == 1)
}
