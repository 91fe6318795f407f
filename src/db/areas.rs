//! The area tree in the database (prefecture → jurisdiction → municipality).

use diesel::prelude::*;

use super::DbConnection;
use super::schema::areas;
use crate::domain::area::{AreaKind, PrefectureDefinition};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = areas)]
pub struct Area {
    pub id: i32,
    pub kind: String,
    pub code: String,
    pub name: String,
    pub parent_id: Option<i32>,
    pub prefecture_code: String,
    pub district: Option<String>,
    pub secondary_area: Option<String>,
    pub contact_desk: Option<String>,
    pub sort_order: i32,
}

#[derive(Insertable)]
#[diesel(table_name = areas)]
#[diesel(treat_none_as_default_value = false)]
struct NewArea<'a> {
    kind: &'a str,
    code: &'a str,
    name: &'a str,
    parent_id: Option<i32>,
    prefecture_code: &'a str,
    district: Option<&'a str>,
    secondary_area: Option<&'a str>,
    contact_desk: Option<&'a str>,
    sort_order: i32,
}

/// Where each municipality of a definition landed: ids in definition order.
#[derive(Debug, Clone)]
pub struct InstalledPrefecture {
    pub prefecture_id: i32,
    /// (municipality id, jurisdiction id), in `PrefectureDefinition::municipalities()` order.
    pub municipalities: Vec<(i32, i32)>,
}

fn find_id(conn: &mut DbConnection, kind: AreaKind, code: &str) -> QueryResult<Option<i32>> {
    areas::table
        .filter(areas::kind.eq(kind.code()))
        .filter(areas::code.eq(code))
        .select(areas::id)
        .first(conn)
        .optional()
}

/// Inserts the nodes of a prefecture that are not there yet; returns all their ids.
/// Idempotent, so loading the demo twice or adding a prefecture later is safe.
pub fn install_prefecture(
    conn: &mut DbConnection,
    def: &PrefectureDefinition,
) -> QueryResult<InstalledPrefecture> {
    let pref_code = def.prefecture.code.as_str();
    let ensure = |conn: &mut DbConnection, row: NewArea| -> QueryResult<i32> {
        let kind = AreaKind::from_code(row.kind).unwrap_or(AreaKind::Municipality);
        if let Some(id) = find_id(conn, kind, row.code)? {
            return Ok(id);
        }
        diesel::insert_into(areas::table)
            .values(&row)
            .execute(conn)?;
        find_id(conn, kind, row.code)?.ok_or(diesel::result::Error::NotFound)
    };
    let prefecture_id = ensure(
        conn,
        NewArea {
            kind: AreaKind::Prefecture.code(),
            code: pref_code,
            name: &def.prefecture.name,
            parent_id: None,
            prefecture_code: pref_code,
            district: None,
            secondary_area: None,
            contact_desk: Some(&def.prefecture.contact_desk),
            sort_order: 0,
        },
    )?;
    let mut municipalities = Vec::new();
    for (j_index, j) in def.jurisdictions.iter().enumerate() {
        let jurisdiction_id = ensure(
            conn,
            NewArea {
                kind: AreaKind::Jurisdiction.code(),
                code: &j.code,
                name: &j.name,
                parent_id: Some(prefecture_id),
                prefecture_code: pref_code,
                district: None,
                secondary_area: None,
                contact_desk: Some(&j.contact_desk),
                sort_order: j_index as i32,
            },
        )?;
        for m in &j.municipalities {
            let sort_order = municipalities.len() as i32;
            let id = ensure(
                conn,
                NewArea {
                    kind: AreaKind::Municipality.code(),
                    code: &m.code,
                    name: &m.name,
                    parent_id: Some(jurisdiction_id),
                    prefecture_code: pref_code,
                    district: m.district.as_deref(),
                    secondary_area: Some(&m.secondary_area),
                    contact_desk: None,
                    sort_order,
                },
            )?;
            municipalities.push((id, jurisdiction_id));
        }
    }
    Ok(InstalledPrefecture {
        prefecture_id,
        municipalities,
    })
}

pub fn prefectures(conn: &mut DbConnection) -> QueryResult<Vec<Area>> {
    areas::table
        .filter(areas::kind.eq(AreaKind::Prefecture.code()))
        .order(areas::code)
        .select(Area::as_select())
        .load(conn)
}

pub fn children(conn: &mut DbConnection, parent: i32) -> QueryResult<Vec<Area>> {
    areas::table
        .filter(areas::parent_id.eq(parent))
        .order((areas::sort_order, areas::code))
        .select(Area::as_select())
        .load(conn)
}

/// The name to show for a scope: the area's name, or 全国 for the whole deployment.
pub fn scope_name(
    conn: &mut DbConnection,
    scope: crate::domain::auth::Scope,
) -> QueryResult<String> {
    use crate::domain::auth::Scope;
    match scope {
        Scope::All => Ok("全体（すべての都道府県）".to_string()),
        Scope::Prefecture(id) | Scope::Jurisdiction(id) | Scope::Municipality(id) => {
            areas::table.find(id).select(areas::name).first(conn)
        }
        Scope::Institution(id) => {
            use super::schema::institutions;
            institutions::table
                .find(id)
                .select(institutions::name)
                .first(conn)
        }
    }
}

/// The area nodes inside a scope (the node and everything under it), in tree order.
pub fn within(
    conn: &mut DbConnection,
    scope: crate::domain::auth::Scope,
) -> QueryResult<Vec<Area>> {
    use crate::domain::auth::Scope;
    let all: Vec<Area> = areas::table
        .order((areas::sort_order, areas::code))
        .select(Area::as_select())
        .load(conn)?;
    let root = match scope {
        Scope::All => return Ok(all),
        Scope::Institution(_) => return Ok(Vec::new()),
        Scope::Prefecture(id) | Scope::Jurisdiction(id) | Scope::Municipality(id) => id,
    };
    let mut keep = std::collections::HashSet::from([root]);
    // Three levels at most: two passes reach every descendant.
    for _ in 0..2 {
        for a in &all {
            if a.parent_id.is_some_and(|p| keep.contains(&p)) {
                keep.insert(a.id);
            }
        }
    }
    Ok(all.into_iter().filter(|a| keep.contains(&a.id)).collect())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MunicipalityChoice {
    pub id: i32,
    pub name: String,
    pub jurisdiction_id: i32,
}

pub fn municipalities_of(
    conn: &mut DbConnection,
    prefecture_id: i32,
) -> QueryResult<Vec<MunicipalityChoice>> {
    let code: String = areas::table
        .find(prefecture_id)
        .select(areas::prefecture_code)
        .first(conn)?;
    let rows: Vec<(i32, String, Option<i32>)> = areas::table
        .filter(areas::kind.eq("municipality"))
        .filter(areas::prefecture_code.eq(code))
        .order((areas::sort_order, areas::code))
        .select((areas::id, areas::name, areas::parent_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, parent)| MunicipalityChoice {
            id,
            name,
            jurisdiction_id: parent.unwrap_or(0),
        })
        .collect())
}

/// The area with this code among the given kinds: (id, kind code).
pub fn by_code(
    conn: &mut DbConnection,
    code: &str,
    kinds: &[AreaKind],
) -> QueryResult<Option<(i32, String)>> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
    areas::table
        .filter(areas::code.eq(code))
        .filter(areas::kind.eq_any(kinds))
        .select((areas::id, areas::kind))
        .first(conn)
        .optional()
}

/// The code of an area (a prefecture's is its two-digit number).
pub fn code_of(conn: &mut DbConnection, id: i32) -> QueryResult<String> {
    areas::table.find(id).select(areas::code).first(conn)
}

/// A prefecture by its two-digit code or its name: (id, code, name).
pub fn prefecture_by_code_or_name(
    conn: &mut DbConnection,
    text: &str,
) -> QueryResult<Option<(i32, String, String)>> {
    areas::table
        .filter(areas::kind.eq(AreaKind::Prefecture.code()))
        .filter(areas::code.eq(text).or(areas::name.eq(text)))
        .select((areas::id, areas::code, areas::name))
        .first(conn)
        .optional()
}

/// A municipality as address matching needs it: (id, name, district, jurisdiction id).
pub type MunicipalityRow = (i32, String, Option<String>, Option<i32>);

/// A prefecture's municipalities as address matching needs them.
pub fn municipality_names(
    conn: &mut DbConnection,
    prefecture_code: &str,
) -> QueryResult<Vec<MunicipalityRow>> {
    areas::table
        .filter(areas::kind.eq(AreaKind::Municipality.code()))
        .filter(areas::prefecture_code.eq(prefecture_code))
        .select((areas::id, areas::name, areas::district, areas::parent_id))
        .load(conn)
}
