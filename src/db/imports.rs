//! Stored master-file imports: previewed, then applied or cancelled.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::imports;

/// Where a stored import stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Read and shown; nothing written yet. The file is kept.
    Previewed,
    Applied,
    Cancelled,
}

impl Stage {
    pub fn code(self) -> &'static str {
        match self {
            Stage::Previewed => "previewed",
            Stage::Applied => "applied",
            Stage::Cancelled => "cancelled",
        }
    }

    /// The label an officer reads for a stored status code ("" for an unknown one).
    pub fn label_of(code: &str) -> &'static str {
        match code {
            "previewed" => "プレビュー中（未反映）",
            "applied" => "反映済み",
            "cancelled" => "取消",
            _ => "",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = imports)]
pub struct ImportRow {
    pub id: i32,
    pub kind: String,
    pub file_name: String,
    pub layout: String,
    pub prefecture_id: i32,
    pub created_by: Option<i32>,
    pub created_at: NaiveDateTime,
    pub status: String,
    pub fingerprint: String,
    pub payload: String,
    pub summary: String,
    pub applied_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = imports)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewImport<'a> {
    pub kind: &'a str,
    pub file_name: &'a str,
    pub layout: &'a str,
    pub prefecture_id: i32,
    pub created_by: Option<i32>,
    pub created_at: NaiveDateTime,
    pub status: &'a str,
    pub fingerprint: &'a str,
    pub payload: &'a str,
    pub summary: &'a str,
    pub applied_at: Option<NaiveDateTime>,
    /// The uploaded file, kept while the preview stands.
    pub file_data: Option<&'a [u8]>,
}

pub fn insert(conn: &mut DbConnection, row: &NewImport) -> QueryResult<i32> {
    crate::per_backend!(&mut *conn, |c| {
        diesel::insert_into(imports::table)
            .values(row)
            .returning(imports::id)
            .get_result(c)
    })
}

/// An import of one of the given prefectures (`None`: any), else `None` (404).
/// One import of `kind` ("institutions" or "ndb"), within the prefecture when given.
pub fn find(
    conn: &mut DbConnection,
    kind: &str,
    id: i32,
    prefecture: Option<i32>,
) -> QueryResult<Option<ImportRow>> {
    let mut q = imports::table
        .filter(imports::id.eq(id))
        .filter(imports::kind.eq(kind.to_string()))
        .into_boxed();
    if let Some(p) = prefecture {
        q = q.filter(imports::prefecture_id.eq(p));
    }
    q.select(ImportRow::as_select()).first(conn).optional()
}

/// The uploaded file of a standing preview.
pub fn file_of(conn: &mut DbConnection, id: i32) -> QueryResult<Option<Vec<u8>>> {
    Ok(imports::table
        .find(id)
        .select(imports::file_data)
        .first::<Option<Vec<u8>>>(conn)
        .optional()?
        .flatten())
}

/// Moves a previewed import to `status` and drops its file (the preview is gone; the
/// summary of what was done stays until [`remove_older_than`]); false when it was no
/// longer previewed (a second click, another tab), so an import is applied at most once.
pub fn finish(
    conn: &mut DbConnection,
    id: i32,
    stage: Stage,
    summary: Option<&str>,
) -> QueryResult<bool> {
    let now = Utc::now().naive_utc();
    let status = stage.code();
    let target = imports::table
        .filter(imports::id.eq(id))
        .filter(imports::status.eq(Stage::Previewed.code()));
    let n = match summary {
        Some(s) => diesel::update(target)
            .set((
                imports::status.eq(status),
                imports::summary.eq(s),
                imports::applied_at.eq(now),
                imports::file_data.eq(None::<Vec<u8>>),
                imports::payload.eq(""),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                imports::status.eq(status),
                imports::file_data.eq(None::<Vec<u8>>),
                imports::payload.eq(""),
            ))
            .execute(conn)?,
    };
    Ok(n == 1)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = imports)]
pub struct ImportListRow {
    pub id: i32,
    pub file_name: String,
    pub layout: String,
    pub created_at: NaiveDateTime,
    pub status: String,
    pub applied_at: Option<NaiveDateTime>,
}

pub fn recent(
    conn: &mut DbConnection,
    kind: &str,
    prefecture: Option<i32>,
    limit: i64,
) -> QueryResult<Vec<ImportListRow>> {
    let mut q = imports::table
        .filter(imports::kind.eq(kind.to_string()))
        .into_boxed();
    if let Some(p) = prefecture {
        q = q.filter(imports::prefecture_id.eq(p));
    }
    q.order(imports::id.desc())
        .limit(limit)
        .select(ImportListRow::as_select())
        .load(conn)
}

/// Removes the imports made before `cutoff`, previews and results alike (their audit
/// entries stay). Returns how many.
pub fn remove_older_than(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(imports::table.filter(imports::created_at.lt(cutoff))).execute(conn)
}
