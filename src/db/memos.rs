//! 疑義照会メモ: the thread of a report, and what each user has read of it.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::DbConnection;
use super::schema::{memo_reads, report_memos};

#[derive(Debug, Clone, Queryable, Serialize)]
pub struct Memo {
    pub id: i32,
    pub author_name: String,
    pub from_institution: bool,
    pub internal: bool,
    pub body: String,
    pub created_at: NaiveDateTime,
}

/// The thread as this user may see it: institutions never see internal memos.
pub fn thread(
    conn: &mut DbConnection,
    report_id: i32,
    institution_view: bool,
) -> QueryResult<Vec<Memo>> {
    let mut q = report_memos::table
        .filter(report_memos::report_id.eq(report_id))
        .into_boxed();
    if institution_view {
        q = q.filter(report_memos::internal.eq(false));
    }
    q.order(report_memos::id)
        .select((
            report_memos::id,
            report_memos::author_name,
            report_memos::from_institution,
            report_memos::internal,
            report_memos::body,
            report_memos::created_at,
        ))
        .load(conn)
}

pub struct NewMemo<'a> {
    pub report_id: i32,
    pub author_id: i32,
    pub author_name: &'a str,
    pub from_institution: bool,
    pub internal: bool,
    pub body: &'a str,
    pub at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, memo: &NewMemo) -> QueryResult<()> {
    diesel::insert_into(report_memos::table)
        .values((
            report_memos::report_id.eq(memo.report_id),
            report_memos::author_id.eq(memo.author_id),
            report_memos::author_name.eq(memo.author_name),
            report_memos::from_institution.eq(memo.from_institution),
            report_memos::internal.eq(memo.internal),
            report_memos::body.eq(memo.body),
            report_memos::created_at.eq(memo.at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Remembers the newest memo the user has seen on a report.
pub fn mark_read(
    conn: &mut DbConnection,
    user_id: i32,
    report_id: i32,
    last: i32,
) -> QueryResult<()> {
    let n = diesel::update(
        memo_reads::table
            .filter(memo_reads::user_id.eq(user_id))
            .filter(memo_reads::report_id.eq(report_id)),
    )
    .set(memo_reads::last_seen_memo.eq(last))
    .execute(conn)?;
    if n == 0 {
        diesel::insert_into(memo_reads::table)
            .values((
                memo_reads::user_id.eq(user_id),
                memo_reads::report_id.eq(report_id),
                memo_reads::last_seen_memo.eq(last),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn last_seen(conn: &mut DbConnection, user_id: i32, report_id: i32) -> QueryResult<i32> {
    Ok(memo_reads::table
        .filter(memo_reads::user_id.eq(user_id))
        .filter(memo_reads::report_id.eq(report_id))
        .select(memo_reads::last_seen_memo)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Unread memos from the other side, per report, for reports in `report_ids`.
pub fn unread_counts(
    conn: &mut DbConnection,
    user_id: i32,
    institution_view: bool,
    report_ids: &[i32],
) -> QueryResult<BTreeMap<i32, i64>> {
    if report_ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let seen: BTreeMap<i32, i32> = memo_reads::table
        .filter(memo_reads::user_id.eq(user_id))
        .filter(memo_reads::report_id.eq_any(report_ids))
        .select((memo_reads::report_id, memo_reads::last_seen_memo))
        .load::<(i32, i32)>(conn)?
        .into_iter()
        .collect();
    let mut q = report_memos::table
        .filter(report_memos::report_id.eq_any(report_ids))
        // Only what the other side wrote is news.
        .filter(report_memos::from_institution.eq(!institution_view))
        .into_boxed();
    if institution_view {
        q = q.filter(report_memos::internal.eq(false));
    }
    let memos: Vec<(i32, i32)> = q
        .select((report_memos::report_id, report_memos::id))
        .load(conn)?;
    let mut out = BTreeMap::new();
    for (report, memo) in memos {
        if memo > seen.get(&report).copied().unwrap_or(0) {
            *out.entry(report).or_insert(0) += 1;
        }
    }
    Ok(out)
}
