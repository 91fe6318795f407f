//! Paper reporters (紙報告): who they are, flagged in bulk, and how many each health
//! center has.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::institutions::{Narrowing, SearchFilter, filtered, within};
use super::schema::institutions;
use crate::domain::auth::Scope;

/// The ids of every institution a search finds (no cap: a bulk change takes them all).
pub fn matching_ids(
    conn: &mut DbConnection,
    scope: Scope,
    filter: &SearchFilter,
) -> QueryResult<Vec<i32>> {
    let narrowing = Narrowing::of(conn, filter)?;
    filtered(scope, filter, &narrowing)
        .select(institutions::id)
        .order(institutions::code)
        .load(conn)
}

/// An institution a bulk change would touch: id, code, name, paper now.
pub type Flagged = (i32, String, String, bool);

/// These institutions, only those within the scope, in code order.
pub fn within_scope(
    conn: &mut DbConnection,
    scope: Scope,
    ids: &[i32],
) -> QueryResult<Vec<Flagged>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(900) {
        out.extend(
            within(scope)
                .filter(institutions::id.eq_any(chunk))
                .select((
                    institutions::id,
                    institutions::code,
                    institutions::name,
                    institutions::paper_report,
                ))
                .load::<Flagged>(conn)?,
        );
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Sets or clears the flag (inside the caller's transaction) and refreshes the review
/// search, which shows it.
pub fn set_paper(
    conn: &mut DbConnection,
    ids: &[i32],
    paper: bool,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    let mut changed = 0;
    for chunk in ids.chunks(900) {
        changed += diesel::update(institutions::table.filter(institutions::id.eq_any(chunk)))
            .set((
                institutions::paper_report.eq(paper),
                institutions::updated_at.eq(at),
            ))
            .execute(conn)?;
        super::review_index::refresh_institutions(conn, chunk)?;
    }
    Ok(changed)
}

/// Per health center (None: no health center): reporting targets, and those of them
/// that report on paper.
pub fn counts_by_jurisdiction(
    conn: &mut DbConnection,
    scope: Scope,
) -> QueryResult<Vec<(Option<i32>, i64, i64)>> {
    // Counted here: a boxed (scoped) query cannot be grouped, and the pairs are small.
    let rows: Vec<(Option<i32>, bool)> = within(scope)
        .filter(institutions::is_target.eq(true))
        .select((institutions::jurisdiction_id, institutions::paper_report))
        .load(conn)?;
    let mut counts: std::collections::BTreeMap<Option<i32>, (i64, i64)> = Default::default();
    for (jurisdiction, paper) in rows {
        let entry = counts.entry(jurisdiction).or_default();
        entry.0 += 1;
        entry.1 += i64::from(paper);
    }
    Ok(counts.into_iter().map(|(j, (t, p))| (j, t, p)).collect())
}

/// The paper reporters (reporting targets flagged 紙報告) of the scope, or of one
/// health center in it, in code order.
pub fn paper_cards(
    conn: &mut DbConnection,
    scope: Scope,
    jurisdiction: Option<i32>,
) -> QueryResult<Vec<super::institutions::InstitutionCard>> {
    let mut q = within(scope)
        .filter(institutions::is_target.eq(true))
        .filter(institutions::paper_report.eq(true));
    if let Some(j) = jurisdiction {
        q = q.filter(institutions::jurisdiction_id.eq(j));
    }
    q.select(super::institutions::InstitutionCard::as_select())
        .order(institutions::code)
        .load(conn)
}
