//! Publication: the prefecture's rules, the municipalities' populations, and the
//! published snapshots with their rows for the public search.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{
    institutions, municipality_populations, public_details, public_institutions, publication_rules,
    publications, reports,
};
use crate::domain::publication::PublicationRules;
use crate::domain::report::Status;

fn to_i32(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub fn rules(conn: &mut DbConnection, prefecture_id: i32) -> QueryResult<Option<PublicationRules>> {
    type Row = (
        i32,
        i32,
        i32,
        i32,
        i32,
        i32,
        i32,
        i32,
        String,
        String,
        String,
    );
    let row: Option<Row> = publication_rules::table
        .find(prefecture_id)
        .select((
            publication_rules::threshold,
            publication_rules::small_population,
            publication_rules::small_threshold,
            publication_rules::hidden_below,
            publication_rules::area_threshold,
            publication_rules::medical_area_threshold,
            publication_rules::total_threshold,
            publication_rules::min_institutions,
            publication_rules::mark,
            publication_rules::prefecture_url,
            publication_rules::explanation,
        ))
        .first(conn)
        .optional()?;
    let n = |v: i32| u64::try_from(v).unwrap_or(0);
    Ok(row.map(|r| PublicationRules {
        threshold: n(r.0),
        small_population: n(r.1),
        small_threshold: n(r.2),
        hidden_below: n(r.3),
        area_threshold: n(r.4),
        medical_area_threshold: n(r.5),
        total_threshold: n(r.6),
        min_institutions: n(r.7),
        mark: r.8,
        prefecture_url: r.9,
        explanation: r.10,
    }))
}

pub fn save_rules(
    conn: &mut DbConnection,
    prefecture_id: i32,
    r: &PublicationRules,
    by: Option<i32>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(publication_rules::table.find(prefecture_id)).execute(conn)?;
    diesel::insert_into(publication_rules::table)
        .values((
            publication_rules::prefecture_id.eq(prefecture_id),
            publication_rules::threshold.eq(to_i32(r.threshold)),
            publication_rules::small_population.eq(to_i32(r.small_population)),
            publication_rules::small_threshold.eq(to_i32(r.small_threshold)),
            publication_rules::hidden_below.eq(to_i32(r.hidden_below)),
            publication_rules::area_threshold.eq(to_i32(r.area_threshold)),
            publication_rules::medical_area_threshold.eq(to_i32(r.medical_area_threshold)),
            publication_rules::total_threshold.eq(to_i32(r.total_threshold)),
            publication_rules::min_institutions.eq(to_i32(r.min_institutions)),
            publication_rules::mark.eq(&r.mark),
            publication_rules::prefecture_url.eq(&r.prefecture_url),
            publication_rules::explanation.eq(&r.explanation),
            publication_rules::updated_by.eq(by),
            publication_rules::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A municipality's population and where it came from (`import` or `demo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Population {
    pub population: i64,
    pub source: String,
    pub updated_at: NaiveDateTime,
}

pub fn populations(conn: &mut DbConnection) -> QueryResult<HashMap<i32, Population>> {
    let rows: Vec<(i32, i64, String, NaiveDateTime)> = municipality_populations::table
        .select((
            municipality_populations::area_id,
            municipality_populations::population,
            municipality_populations::source,
            municipality_populations::updated_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, population, source, updated_at)| {
            (
                id,
                Population {
                    population,
                    source,
                    updated_at,
                },
            )
        })
        .collect())
}

/// Replaces the populations of the municipalities given.
pub fn set_populations(
    conn: &mut DbConnection,
    rows: &[(i32, i64)],
    source: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    for chunk in rows.chunks(500) {
        let ids: Vec<i32> = chunk.iter().map(|(id, _)| *id).collect();
        diesel::delete(
            municipality_populations::table.filter(municipality_populations::area_id.eq_any(ids)),
        )
        .execute(conn)?;
        let values: Vec<_> = chunk
            .iter()
            .map(|(id, population)| {
                (
                    municipality_populations::area_id.eq(*id),
                    municipality_populations::population.eq(*population),
                    municipality_populations::source.eq(source),
                    municipality_populations::updated_at.eq(at),
                )
            })
            .collect();
        crate::per_backend!(&mut *conn, |c| {
            diesel::insert_into(municipality_populations::table)
                .values(&values)
                .execute(c)
        })?;
    }
    Ok(())
}

/// The confirmed report each institution of the prefecture has for the year (its
/// latest confirmed one, when a 変更報告 was confirmed after the 定期報告), by
/// institution id.
pub fn confirmed_reports(
    conn: &mut DbConnection,
    prefecture_id: i32,
    fiscal_year: i32,
) -> QueryResult<Vec<i32>> {
    let pairs: Vec<(i32, i32)> = reports::table
        .inner_join(institutions::table)
        .filter(reports::fiscal_year.eq(fiscal_year))
        .filter(reports::status.eq(Status::Confirmed.code()))
        .filter(institutions::prefecture_id.eq(prefecture_id))
        .select((reports::institution_id, reports::id))
        .order((reports::institution_id.asc(), reports::id.asc()))
        .load(conn)?;
    let mut latest: Vec<(i32, i32)> = Vec::with_capacity(pairs.len());
    for (institution, report) in pairs {
        match latest.last_mut() {
            Some(last) if last.0 == institution => last.1 = report,
            _ => latest.push((institution, report)),
        }
    }
    Ok(latest.into_iter().map(|(_, report)| report).collect())
}

/// A confirmed report with what the public rows need of its institution.
#[derive(Debug, Clone, Queryable)]
pub struct SourceRow {
    pub institution_id: i32,
    pub code: String,
    pub name: String,
    pub search_key: String,
    pub category: String,
    pub jurisdiction_id: Option<i32>,
    pub municipality_id: Option<i32>,
    pub postcode: Option<String>,
    pub address: String,
    pub phone: Option<String>,
    pub answers: String,
    pub function1: bool,
    pub after_hours: bool,
    pub admission_discharge: bool,
    pub home_care: bool,
    pub care_coordination: bool,
    pub confirmed_at: Option<NaiveDateTime>,
}

pub fn source_rows(conn: &mut DbConnection, report_ids: &[i32]) -> QueryResult<Vec<SourceRow>> {
    reports::table
        .inner_join(institutions::table)
        .filter(reports::id.eq_any(report_ids))
        .select((
            institutions::id,
            institutions::code,
            institutions::name,
            institutions::search_key,
            institutions::category,
            institutions::jurisdiction_id,
            institutions::municipality_id,
            institutions::postcode,
            institutions::address,
            institutions::phone,
            reports::answers,
            reports::function1,
            reports::after_hours,
            reports::admission_discharge,
            reports::home_care,
            reports::care_coordination,
            reports::confirmed_at,
        ))
        .order(institutions::id.asc())
        .load(conn)
}

/// Report targets per municipality (None: no municipality), for 報告対象 in the tables.
pub fn targets_per_municipality(
    conn: &mut DbConnection,
    prefecture_id: i32,
) -> QueryResult<HashMap<Option<i32>, u64>> {
    let rows: Vec<(Option<i32>, i64)> = institutions::table
        .filter(institutions::prefecture_id.eq(prefecture_id))
        .filter(institutions::is_target.eq(true))
        .group_by(institutions::municipality_id)
        .select((institutions::municipality_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(m, n)| (m, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// One row of the public search, as published.
#[derive(Debug, Clone, Insertable, Queryable)]
#[diesel(table_name = public_institutions)]
pub struct PublicRow {
    pub publication_id: i32,
    pub institution_id: i32,
    pub code: String,
    pub name: String,
    pub search_key: String,
    pub category: String,
    pub jurisdiction_id: Option<i32>,
    pub municipality_id: Option<i32>,
    pub postcode: Option<String>,
    pub address: String,
    pub phone: Option<String>,
    pub function1: bool,
    pub after_hours: bool,
    pub admission_discharge: bool,
    pub home_care: bool,
    pub care_coordination: bool,
    pub primary_areas: i64,
    pub diseases: i64,
    pub confirmed_at: Option<NaiveDateTime>,
}

/// An institution's published answers (JSON), kept apart from its search row.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = public_details)]
pub struct PublicDetail {
    pub publication_id: i32,
    pub institution_id: i32,
    pub detail: String,
}

pub fn insert_public_rows(
    conn: &mut DbConnection,
    rows: &[PublicRow],
    details: &[PublicDetail],
) -> QueryResult<()> {
    for chunk in rows.chunks(400) {
        crate::per_backend!(&mut *conn, |c| {
            diesel::insert_into(public_institutions::table)
                .values(chunk)
                .execute(c)
        })?;
    }
    for chunk in details.chunks(1000) {
        crate::per_backend!(&mut *conn, |c| {
            diesel::insert_into(public_details::table)
                .values(chunk)
                .execute(c)
        })?;
    }
    Ok(())
}

/// The published answers of these institutions, by institution id.
pub fn details_of(
    conn: &mut DbConnection,
    publication_id: i32,
    institution_ids: &[i32],
) -> QueryResult<HashMap<i32, String>> {
    let rows: Vec<(i32, String)> = public_details::table
        .filter(public_details::publication_id.eq(publication_id))
        .filter(public_details::institution_id.eq_any(institution_ids))
        .select((public_details::institution_id, public_details::detail))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

#[derive(Debug, Clone, Queryable)]
pub struct Publication {
    pub id: i32,
    pub prefecture_id: i32,
    pub fiscal_year: i32,
    pub published_at: NaiveDateTime,
    pub published_by: Option<i32>,
    pub confirmed_until: Option<NaiveDateTime>,
    pub institutions: i32,
    pub rules: String,
    pub tables: String,
    pub raw_tables: String,
}

pub struct NewPublication<'a> {
    pub prefecture_id: i32,
    pub fiscal_year: i32,
    pub published_at: NaiveDateTime,
    pub published_by: Option<i32>,
    pub confirmed_until: Option<NaiveDateTime>,
    pub institutions: i32,
    pub rules: &'a str,
    pub tables: &'a str,
    pub raw_tables: &'a str,
}

/// Inserts the publication (none may exist for the year); returns its id.
pub fn insert_publication(conn: &mut DbConnection, p: &NewPublication) -> QueryResult<i32> {
    diesel::insert_into(publications::table)
        .values((
            publications::prefecture_id.eq(p.prefecture_id),
            publications::fiscal_year.eq(p.fiscal_year),
            publications::published_at.eq(p.published_at),
            publications::published_by.eq(p.published_by),
            publications::confirmed_until.eq(p.confirmed_until),
            publications::institutions.eq(p.institutions),
            publications::rules.eq(p.rules),
            publications::tables.eq(p.tables),
            publications::raw_tables.eq(p.raw_tables),
        ))
        .execute(conn)?;
    publications::table
        .filter(publications::prefecture_id.eq(p.prefecture_id))
        .filter(publications::fiscal_year.eq(p.fiscal_year))
        .select(publications::id)
        .first(conn)
}

/// Removes the year's publication and its rows; true when there was one.
pub fn remove_publication(
    conn: &mut DbConnection,
    prefecture_id: i32,
    fiscal_year: i32,
) -> QueryResult<bool> {
    let Some(id) = publication_id(conn, prefecture_id, fiscal_year)? else {
        return Ok(false);
    };
    diesel::delete(public_details::table.filter(public_details::publication_id.eq(id)))
        .execute(conn)?;
    diesel::delete(public_institutions::table.filter(public_institutions::publication_id.eq(id)))
        .execute(conn)?;
    diesel::delete(publications::table.find(id)).execute(conn)?;
    Ok(true)
}

pub fn publication_id(
    conn: &mut DbConnection,
    prefecture_id: i32,
    fiscal_year: i32,
) -> QueryResult<Option<i32>> {
    publications::table
        .filter(publications::prefecture_id.eq(prefecture_id))
        .filter(publications::fiscal_year.eq(fiscal_year))
        .select(publications::id)
        .first(conn)
        .optional()
}

pub fn publication(
    conn: &mut DbConnection,
    prefecture_id: i32,
    fiscal_year: i32,
) -> QueryResult<Option<Publication>> {
    publications::table
        .filter(publications::prefecture_id.eq(prefecture_id))
        .filter(publications::fiscal_year.eq(fiscal_year))
        .first(conn)
        .optional()
}

/// Every publication, newest year first (without their tables).
pub fn publications(conn: &mut DbConnection) -> QueryResult<Vec<(i32, i32, NaiveDateTime, i32)>> {
    publications::table
        .select((
            publications::prefecture_id,
            publications::fiscal_year,
            publications::published_at,
            publications::institutions,
        ))
        .order((
            publications::fiscal_year.desc(),
            publications::prefecture_id.asc(),
        ))
        .load(conn)
}

/// What the public search filters on, for one institution of a publication.
#[derive(Debug, Clone, Queryable)]
pub struct SearchFields {
    pub institution_id: i32,
    pub municipality_id: Option<i32>,
    pub code: String,
    pub search_key: String,
    pub function1: bool,
    pub after_hours: bool,
    pub admission_discharge: bool,
    pub home_care: bool,
    pub care_coordination: bool,
    pub primary_areas: i64,
    pub diseases: i64,
}

pub fn search_fields(
    conn: &mut DbConnection,
    publication_id: i32,
) -> QueryResult<Vec<SearchFields>> {
    public_institutions::table
        .filter(public_institutions::publication_id.eq(publication_id))
        .select((
            public_institutions::institution_id,
            public_institutions::municipality_id,
            public_institutions::code,
            public_institutions::search_key,
            public_institutions::function1,
            public_institutions::after_hours,
            public_institutions::admission_discharge,
            public_institutions::home_care,
            public_institutions::care_coordination,
            public_institutions::primary_areas,
            public_institutions::diseases,
        ))
        .load(conn)
}

/// These institutions' public rows (in no particular order).
pub fn public_rows(
    conn: &mut DbConnection,
    publication_id: i32,
    institution_ids: &[i32],
) -> QueryResult<Vec<PublicRow>> {
    public_institutions::table
        .filter(public_institutions::publication_id.eq(publication_id))
        .filter(public_institutions::institution_id.eq_any(institution_ids))
        .load(conn)
}

pub fn public_institution(
    conn: &mut DbConnection,
    publication_id: i32,
    code: &str,
) -> QueryResult<Option<PublicRow>> {
    public_institutions::table
        .filter(public_institutions::publication_id.eq(publication_id))
        .filter(public_institutions::code.eq(code))
        .first(conn)
        .optional()
}

/// Every row of a publication in code order, a chunk at a time (公表用CSV).
pub fn public_rows_after(
    conn: &mut DbConnection,
    publication_id: i32,
    after_code: &str,
    limit: i64,
) -> QueryResult<Vec<PublicRow>> {
    public_institutions::table
        .filter(public_institutions::publication_id.eq(publication_id))
        .filter(public_institutions::code.gt(after_code.to_string()))
        .order(public_institutions::code.asc())
        .limit(limit)
        .load(conn)
}

/// Fills in what publishing computed once the rows are in.
pub fn complete_publication(
    conn: &mut DbConnection,
    id: i32,
    confirmed_until: Option<NaiveDateTime>,
    institutions: usize,
    tables: &str,
    raw_tables: &str,
) -> QueryResult<()> {
    diesel::update(publications::table.find(id))
        .set((
            publications::confirmed_until.eq(confirmed_until),
            publications::institutions.eq(i32::try_from(institutions).unwrap_or(i32::MAX)),
            publications::tables.eq(tables),
            publications::raw_tables.eq(raw_tables),
        ))
        .execute(conn)?;
    Ok(())
}

/// What every public page needs of a publication (not its tables).
#[derive(Debug, Clone, Queryable)]
pub struct PublicationHead {
    pub id: i32,
    pub published_at: NaiveDateTime,
    pub confirmed_until: Option<NaiveDateTime>,
    pub institutions: i32,
    pub rules: String,
}

pub fn publication_head(
    conn: &mut DbConnection,
    prefecture_id: i32,
    fiscal_year: i32,
) -> QueryResult<Option<PublicationHead>> {
    publications::table
        .filter(publications::prefecture_id.eq(prefecture_id))
        .filter(publications::fiscal_year.eq(fiscal_year))
        .select((
            publications::id,
            publications::published_at,
            publications::confirmed_until,
            publications::institutions,
            publications::rules,
        ))
        .first(conn)
        .optional()
}

/// The masked tables stored with a publication (JSON).
pub fn published_tables(conn: &mut DbConnection, publication_id: i32) -> QueryResult<String> {
    publications::table
        .find(publication_id)
        .select(publications::tables)
        .first(conn)
}
