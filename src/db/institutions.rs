//! The institution master.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{institution_name_grams, institutions};

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = institutions)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewInstitution {
    pub code: String,
    pub prefecture_code: String,
    pub fee_table: String,
    pub category: String,
    pub is_special_function: bool,
    pub is_correctional: bool,
    pub name: String,
    pub name_kana: Option<String>,
    pub postcode: Option<String>,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub prefecture_id: i32,
    pub jurisdiction_id: Option<i32>,
    pub municipality_id: Option<i32>,
    pub founder: Option<String>,
    pub manager: Option<String>,
    pub designated_on: Option<NaiveDate>,
    pub departments: Option<String>,
    pub status: String,
    pub paper_report: bool,
    pub target_override: Option<bool>,
    pub target_override_reason: Option<String>,
    pub is_target: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub short_code: String,
    pub search_key: String,
}

/// Rows per INSERT statement: 28 columns × 500 rows stays under both backends'
/// bound-parameter limits (SQLite 32,766; PostgreSQL 65,535).
pub const INSERT_BATCH: usize = 500;

/// Inserts many rows with multi-row INSERT statements, and indexes their names.
pub fn insert_many(conn: &mut DbConnection, rows: &[NewInstitution]) -> QueryResult<usize> {
    let mut inserted = 0;
    for chunk in rows.chunks(INSERT_BATCH) {
        inserted += crate::per_backend!(&mut *conn, |c| {
            diesel::insert_into(institutions::table)
                .values(chunk)
                .execute(c)
        })?;
        let ids = ids_by_code(conn, chunk.iter().map(|r| r.code.as_str()))?;
        let keys: Vec<(i32, &str)> = chunk
            .iter()
            .filter_map(|r| Some((*ids.get(&r.code)?, r.search_key.as_str())))
            .collect();
        add_name_grams(conn, &keys)?;
        let ids: Vec<i32> = ids.into_values().collect();
        super::review_index::refresh_institutions(conn, &ids)?;
    }
    Ok(inserted)
}

#[derive(Insertable)]
#[diesel(table_name = institution_name_grams)]
struct NameGram<'a> {
    gram: &'a str,
    institution_id: i32,
}

/// Replaces the name-index entries of these institutions (id, search key). Every write
/// of `search_key` goes through here, so the index never disagrees with the names.
pub fn index_names(conn: &mut DbConnection, keys: &[(i32, &str)]) -> QueryResult<()> {
    for chunk in keys.chunks(900) {
        let ids: Vec<i32> = chunk.iter().map(|(id, _)| *id).collect();
        diesel::delete(
            institution_name_grams::table
                .filter(institution_name_grams::institution_id.eq_any(&ids)),
        )
        .execute(conn)?;
    }
    add_name_grams(conn, keys)
}

/// Indexes the names of institutions that have no entries yet.
fn add_name_grams(conn: &mut DbConnection, keys: &[(i32, &str)]) -> QueryResult<()> {
    let grams: Vec<(i32, Vec<String>)> = keys
        .iter()
        .map(|(id, key)| (*id, crate::domain::normalize::key_grams(key)))
        .collect();
    let rows: Vec<NameGram> = grams
        .iter()
        .flat_map(|(id, grams)| {
            grams.iter().map(|g| NameGram {
                gram: g,
                institution_id: *id,
            })
        })
        .collect();
    // Two parameters per row.
    for chunk in rows.chunks(5_000) {
        crate::per_backend!(&mut *conn, |c| {
            diesel::insert_into(institution_name_grams::table)
                .values(chunk)
                .execute(c)
        })?;
    }
    Ok(())
}

/// A name window this common is no use as a filter: scanning the names in index order
/// finds the first page sooner than fetching this many candidates.
const GRAM_USEFUL_BELOW: i64 = 5_000;

/// The rarest window of a name query, if one narrows the search enough.
pub fn rarest_gram(conn: &mut DbConnection, key: &str) -> QueryResult<Option<String>> {
    let mut best: Option<(i64, String)> = None;
    for gram in crate::domain::normalize::key_grams(key)
        .into_iter()
        .take(12)
    {
        let bound = best.as_ref().map_or(GRAM_USEFUL_BELOW, |(n, _)| *n);
        let n = institution_name_grams::table
            .filter(institution_name_grams::gram.eq(&gram))
            .select(institution_name_grams::institution_id)
            .limit(bound)
            .load::<i32>(conn)?
            .len() as i64;
        if n < bound {
            best = Some((n, gram));
            if n == 0 {
                break;
            }
        }
    }
    Ok(best.map(|(_, g)| g))
}

/// Ids of institutions by code (looked up in chunks to stay under parameter limits).
pub fn ids_by_code<'a>(
    conn: &mut DbConnection,
    codes: impl Iterator<Item = &'a str>,
) -> QueryResult<std::collections::HashMap<String, i32>> {
    let codes: Vec<&str> = codes.collect();
    let mut out = std::collections::HashMap::with_capacity(codes.len());
    for chunk in codes.chunks(900) {
        let rows: Vec<(String, i32)> = institutions::table
            .filter(institutions::code.eq_any(chunk))
            .select((institutions::code, institutions::id))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Counts for the home page.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub institutions: i64,
    pub targets: i64,
}

pub fn summary(conn: &mut DbConnection) -> QueryResult<Summary> {
    let institutions = institutions::table.count().get_result(conn)?;
    let targets = institutions::table
        .filter(institutions::is_target.eq(true))
        .count()
        .get_result(conn)?;
    Ok(Summary {
        institutions,
        targets,
    })
}

/// Figures for an officer's home page.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ScopeCounts {
    /// The area's name (filled by the caller; cached with the figures).
    pub scope_name: String,
    pub institutions: i64,
    pub targets: i64,
    pub paper: i64,
    pub without_email: i64,
}

/// Institutions within a scope, as a boxed query to filter further.
pub fn within(
    scope: crate::domain::auth::Scope,
) -> institutions::BoxedQuery<'static, crate::db::MultiBackend> {
    use crate::domain::auth::Scope;
    let q = institutions::table.into_boxed();
    match scope {
        Scope::All => q,
        Scope::Prefecture(id) => q.filter(institutions::prefecture_id.eq(id)),
        Scope::Jurisdiction(id) => q.filter(institutions::jurisdiction_id.eq(id)),
        Scope::Municipality(id) => q.filter(institutions::municipality_id.eq(id)),
        Scope::Institution(id) => q.filter(institutions::id.eq(id)),
    }
}

/// All four figures in one pass over the scope's institutions.
pub fn scope_counts(
    conn: &mut DbConnection,
    scope: crate::domain::auth::Scope,
) -> QueryResult<ScopeCounts> {
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    // CASE over a boolean column reads the same on SQLite (0/1) and PostgreSQL.
    let (institutions, targets, paper, without_email) = within(scope)
        .select((
            sql::<BigInt>("COUNT(*)"),
            sql::<BigInt>("COALESCE(SUM(CASE WHEN is_target THEN 1 ELSE 0 END), 0)"),
            sql::<BigInt>(
                "COALESCE(SUM(CASE WHEN is_target AND paper_report THEN 1 ELSE 0 END), 0)",
            ),
            sql::<BigInt>(
                "COALESCE(SUM(CASE WHEN is_target AND email IS NULL THEN 1 ELSE 0 END), 0)",
            ),
        ))
        .first::<(i64, i64, i64, i64)>(conn)?;
    Ok(ScopeCounts {
        scope_name: String::new(),
        institutions,
        targets,
        paper,
        without_email,
    })
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = institutions)]
pub struct InstitutionCard {
    pub id: i32,
    pub code: String,
    pub name: String,
    pub category: String,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub status: String,
    pub is_target: bool,
    pub paper_report: bool,
    pub prefecture_id: i32,
    pub jurisdiction_id: Option<i32>,
    pub municipality_id: Option<i32>,
}

/// One institution, only if it lies within `scope` (else `None`, shown as 404).
pub fn card_within(
    conn: &mut DbConnection,
    scope: crate::domain::auth::Scope,
    id: i32,
) -> QueryResult<Option<InstitutionCard>> {
    within(scope)
        .filter(institutions::id.eq(id))
        .select(InstitutionCard::as_select())
        .first(conn)
        .optional()
}

pub fn card_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<InstitutionCard>> {
    institutions::table
        .filter(institutions::code.eq(code))
        .select(InstitutionCard::as_select())
        .first(conn)
        .optional()
}

impl InstitutionCard {
    pub fn placement(&self) -> crate::domain::auth::Placement {
        crate::domain::auth::Placement {
            institution_id: self.id,
            prefecture_id: self.prefecture_id,
            jurisdiction_id: self.jurisdiction_id,
            municipality_id: self.municipality_id,
        }
    }
}

/// The officers' search (機関情報検索). Every field is optional.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Already folded with `normalize::search_key`.
    pub name_key: Option<String>,
    /// 10-digit code, or the 7 digits the bureau prints.
    pub code: Option<String>,
    pub municipality_id: Option<i32>,
    pub jurisdiction_id: Option<i32>,
    pub category: Option<String>,
    pub is_target: Option<bool>,
    pub paper: Option<bool>,
    pub has_email: Option<bool>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Code,
    Name,
    Municipality,
    Updated,
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = institutions)]
pub struct ListedInstitution {
    pub id: i32,
    pub code: String,
    pub name: String,
    pub name_kana: Option<String>,
    pub category: String,
    pub postcode: Option<String>,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Why mail to `email` bounced (不達), until the address changes.
    pub email_bounce_reason: Option<String>,
    pub founder: Option<String>,
    pub manager: Option<String>,
    pub designated_on: Option<NaiveDate>,
    pub departments: Option<String>,
    pub status: String,
    pub paper_report: bool,
    pub is_special_function: bool,
    pub is_correctional: bool,
    pub is_target: bool,
    pub municipality_id: Option<i32>,
    pub jurisdiction_id: Option<i32>,
    pub updated_at: NaiveDateTime,
}

/// How a search is narrowed before its filters are tested on each row.
pub(super) struct Narrowing {
    postgres: bool,
    /// Only institutions whose name contains this two-character window.
    gram: Option<String>,
}

impl Narrowing {
    pub(super) fn of(conn: &mut DbConnection, f: &SearchFilter) -> QueryResult<Self> {
        let gram = match &f.name_key {
            Some(key) if f.code.is_none() => rarest_gram(conn, key)?,
            _ => None,
        };
        Ok(Narrowing {
            postgres: matches!(conn, DbConnection::Pg(_)),
            gram,
        })
    }
}

pub(super) fn filtered(
    scope: crate::domain::auth::Scope,
    f: &SearchFilter,
    narrowing: &Narrowing,
) -> institutions::BoxedQuery<'static, crate::db::MultiBackend> {
    let mut q = within(scope);
    if let Some(gram) = &narrowing.gram {
        q = q.filter(
            institutions::id.eq_any(
                institution_name_grams::table
                    .filter(institution_name_grams::gram.eq(gram.clone()))
                    .select(institution_name_grams::institution_id),
            ),
        );
    }
    let postgres = narrowing.postgres;
    if let Some(key) = &f.name_key {
        // A plain substring test: several times cheaper per row than LIKE's pattern
        // matcher on Japanese text (measured on PostgreSQL with a UTF-8 collation).
        let position = if postgres { "strpos" } else { "instr" };
        q = q.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("{position}(search_key, "))
                .bind::<diesel::sql_types::Text, _>(key.clone())
                .sql(") > 0"),
        );
    }
    if let Some(code) = &f.code {
        q = if code.len() == 7 {
            q.filter(institutions::short_code.eq(code.clone()))
        } else {
            q.filter(institutions::code.eq(code.clone()))
        };
    }
    if let Some(m) = f.municipality_id {
        q = q.filter(institutions::municipality_id.eq(m));
    }
    if let Some(j) = f.jurisdiction_id {
        q = q.filter(institutions::jurisdiction_id.eq(j));
    }
    if let Some(c) = &f.category {
        q = q.filter(institutions::category.eq(c.clone()));
    }
    if let Some(t) = f.is_target {
        q = q.filter(institutions::is_target.eq(t));
    }
    if let Some(p) = f.paper {
        q = q.filter(institutions::paper_report.eq(p));
    }
    match f.has_email {
        Some(true) => q = q.filter(institutions::email.is_not_null()),
        Some(false) => q = q.filter(institutions::email.is_null()),
        None => {}
    }
    if let Some(s) = &f.status {
        q = q.filter(institutions::status.eq(s.clone()));
    }
    q
}

/// Counting stops here: an exact count of a broad search would scan the whole table on
/// every page view, and "more than 2,000" tells an officer to narrow the search.
pub const COUNT_CAP: i64 = 2_000;

/// One page of results in the chosen order, and the number of matches up to
/// [`COUNT_CAP`] + 1 (more than the cap means "more than 2,000").
pub fn search(
    conn: &mut DbConnection,
    scope: crate::domain::auth::Scope,
    filter: &SearchFilter,
    sort: SortKey,
    descending: bool,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<ListedInstitution>, i64)> {
    // One ordered scan yields both the count (up to the cap) and the page's ids; the
    // page's rows are then fetched by id. Beyond the cap, fall back to OFFSET.
    let narrowing = Narrowing::of(conn, filter)?;
    let ordered = order(filtered(scope, filter, &narrowing), sort, descending);
    let ids: Vec<i32> = ordered
        .select(institutions::id)
        .limit(COUNT_CAP + 1)
        .load(conn)?;
    let total = ids.len() as i64;
    let start = (page.max(0) * per_page) as usize;
    if start < ids.len().min(COUNT_CAP as usize) {
        let page_ids: Vec<i32> = ids[start..ids.len().min(start + per_page as usize)].to_vec();
        let mut rows: Vec<ListedInstitution> = institutions::table
            .filter(institutions::id.eq_any(&page_ids))
            .select(ListedInstitution::as_select())
            .load(conn)?;
        let rank: std::collections::HashMap<i32, usize> = page_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i))
            .collect();
        rows.sort_by_key(|r| rank.get(&r.id).copied().unwrap_or(usize::MAX));
        return Ok((rows, total));
    }
    let rows = order(filtered(scope, filter, &narrowing), sort, descending)
        .limit(per_page)
        .offset(page.max(0) * per_page)
        .select(ListedInstitution::as_select())
        .load(conn)?;
    Ok((rows, total))
}

type Boxed = institutions::BoxedQuery<'static, crate::db::MultiBackend>;

fn order(q: Boxed, sort: SortKey, descending: bool) -> Boxed {
    match (sort, descending) {
        (SortKey::Code, false) => q.order(institutions::code.asc()),
        (SortKey::Code, true) => q.order(institutions::code.desc()),
        (SortKey::Name, false) => q.order((institutions::search_key.asc(), institutions::id)),
        (SortKey::Name, true) => q.order((institutions::search_key.desc(), institutions::id)),
        (SortKey::Municipality, false) => {
            q.order((institutions::municipality_id.asc(), institutions::code))
        }
        (SortKey::Municipality, true) => {
            q.order((institutions::municipality_id.desc(), institutions::code))
        }
        (SortKey::Updated, false) => q.order((institutions::updated_at.asc(), institutions::id)),
        (SortKey::Updated, true) => q.order((institutions::updated_at.desc(), institutions::id)),
    }
}

/// Every matching row, for the CSV download.
pub fn search_all(
    conn: &mut DbConnection,
    scope: crate::domain::auth::Scope,
    filter: &SearchFilter,
) -> QueryResult<Vec<ListedInstitution>> {
    let narrowing = Narrowing::of(conn, filter)?;
    filtered(scope, filter, &narrowing)
        .order(institutions::code)
        .select(ListedInstitution::as_select())
        .load(conn)
}

/// An institution with its target override, the override's reason and its prefecture.
pub type FullRow = (ListedInstitution, Option<bool>, Option<String>, i32);

/// One institution with every field, only within `scope`.
pub fn full_within(
    conn: &mut DbConnection,
    scope: crate::domain::auth::Scope,
    id: i32,
) -> QueryResult<Option<FullRow>> {
    within(scope)
        .filter(institutions::id.eq(id))
        .select((
            ListedInstitution::as_select(),
            institutions::target_override,
            institutions::target_override_reason,
            institutions::prefecture_id,
        ))
        .first(conn)
        .optional()
}

/// What an officer may change on the detail page.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = institutions)]
#[diesel(treat_none_as_null = true)]
pub struct OfficerEdit {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub paper_report: bool,
    pub status: String,
    pub municipality_id: Option<i32>,
    pub jurisdiction_id: Option<i32>,
    pub target_override: Option<bool>,
    pub target_override_reason: Option<String>,
    pub is_target: bool,
    pub updated_at: NaiveDateTime,
}

pub fn save_edit(conn: &mut DbConnection, id: i32, edit: &OfficerEdit) -> QueryResult<()> {
    diesel::update(institutions::table.find(id))
        .set(edit)
        .execute(conn)?;
    super::review_index::refresh_institutions(conn, &[id])
}

/// The reporting targets, (id, code), in id order.
pub fn targets(conn: &mut DbConnection) -> QueryResult<Vec<(i32, String)>> {
    institutions::table
        .filter(institutions::is_target.eq(true))
        .order(institutions::id)
        .select((institutions::id, institutions::code))
        .load(conn)
}

/// The first reporting-target clinic of a jurisdiction by code (the demo clinic's).
pub fn first_target_clinic(
    conn: &mut DbConnection,
    jurisdiction_id: i32,
) -> QueryResult<Option<(i32, String)>> {
    institutions::table
        .filter(institutions::jurisdiction_id.eq(jurisdiction_id))
        .filter(institutions::is_target.eq(true))
        .filter(institutions::category.eq(crate::domain::institution::Category::Clinic.code()))
        .order(institutions::code)
        .select((institutions::id, institutions::name))
        .first(conn)
        .optional()
}

/// The first `count` reporting targets by code, (id, name).
pub fn first_targets(conn: &mut DbConnection, count: usize) -> QueryResult<Vec<(i32, String)>> {
    institutions::table
        .filter(institutions::is_target.eq(true))
        .order(institutions::code)
        .limit(i64::try_from(count).unwrap_or(i64::MAX))
        .select((institutions::id, institutions::name))
        .load(conn)
}
/// The codes of the institutions within a scope.
pub fn codes_within(
    conn: &mut DbConnection,
    scope: crate::domain::auth::Scope,
) -> QueryResult<Vec<String>> {
    within(scope).select(institutions::code).load(conn)
}

/// Puts an address in the master (an approved application's, when the officer ticks it).
pub fn set_email(
    conn: &mut DbConnection,
    id: i32,
    email: &str,
    at: chrono::NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(institutions::table.find(id))
        .set((
            institutions::email.eq(email),
            institutions::email_bounced_at.eq(None::<chrono::NaiveDateTime>),
            institutions::email_bounce_reason.eq(None::<String>),
            institutions::updated_at.eq(at),
        ))
        .execute(conn)?;
    // The review search knows which institutions have an address.
    super::review_index::refresh_institutions(conn, &[id])
}
