//! What an institution import would change, and applying it.
//!
//! [`plan`] compares the parsed file with the master: each row is added, updated (with
//! the changed fields), unchanged or rejected; institutions of the same kind missing from
//! a full bureau list are listed as "not in file" and left alone. [`apply`] writes a plan
//! in one transaction, so a failure changes nothing.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::institutions::{Layout, Parsed, Record, Rejected};
use crate::db::audit::{self, Action};
use crate::db::schema::{areas, institutions};
use crate::db::{DbConnection, DbError, institutions as inst_db};
use crate::domain::area::{MunicipalityName, match_municipality};
use crate::domain::codes::FeeTable;
use crate::domain::institution::{Category, Status, TargetFacts, is_reporting_target};
use crate::domain::normalize::search_key;

/// The prefecture an import is for, with what matching addresses needs.
#[derive(Debug, Clone)]
pub struct Target {
    pub prefecture_id: i32,
    pub prefecture_code: String,
    pub prefecture_name: String,
    pub municipalities: Vec<MunicipalityName>,
    /// municipality id → jurisdiction id
    pub jurisdiction_of: HashMap<i32, i32>,
}

impl Target {
    pub fn number(&self) -> u8 {
        self.prefecture_code.parse().unwrap_or(0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(
        "都道府県コード {0} は登録されていません。先に地域（都道府県・保健所・市区町村）を登録してください"
    )]
    UnknownPrefecture(String),
    #[error("{0}")]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for TargetError {
    fn from(e: diesel::result::Error) -> Self {
        TargetError::Db(DbError::Query(e))
    }
}

/// Loads the prefecture by its 2-digit code, or by its name (as a bureau heading
/// names it) when no code is given.
pub fn load_target(conn: &mut DbConnection, code: &str) -> Result<Target, TargetError> {
    let found: Option<(i32, String, String)> = areas::table
        .filter(areas::kind.eq("prefecture"))
        .filter(areas::code.eq(code).or(areas::name.eq(code)))
        .select((areas::id, areas::code, areas::name))
        .first(conn)
        .optional()?;
    let (prefecture_id, prefecture_code, prefecture_name) =
        found.ok_or_else(|| TargetError::UnknownPrefecture(code.to_string()))?;
    let rows: Vec<(i32, String, Option<String>, Option<i32>)> = areas::table
        .filter(areas::kind.eq("municipality"))
        .filter(areas::prefecture_code.eq(&prefecture_code))
        .select((areas::id, areas::name, areas::district, areas::parent_id))
        .load(conn)?;
    let jurisdiction_of = rows
        .iter()
        .filter_map(|(id, _, _, parent)| parent.map(|p| (*id, p)))
        .collect();
    let municipalities = rows
        .into_iter()
        .map(|(id, name, district, _)| MunicipalityName { id, name, district })
        .collect();
    Ok(Target {
        prefecture_id,
        prefecture_code,
        prefecture_name,
        municipalities,
        jurisdiction_of,
    })
}

/// One changed field: its Japanese label, the old and the new value as shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Added {
    pub row: usize,
    pub code: String,
    pub name: String,
    pub municipality: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Updated {
    pub row: usize,
    pub id: i32,
    pub code: String,
    pub name: String,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Missing {
    pub id: i32,
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unmatched {
    pub row: usize,
    pub code: String,
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Warning {
    pub row: usize,
    pub code: String,
    pub text: String,
}

/// What an import would do (preview) or did (result).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Plan {
    pub added: Vec<Added>,
    pub updated: Vec<Updated>,
    pub unchanged: usize,
    pub rejected: Vec<Rejected>,
    pub not_in_file: Vec<Missing>,
    pub unmatched: Vec<Unmatched>,
    pub warnings: Vec<Warning>,
}

impl Plan {
    /// A digest of what would be written, to detect that the master changed between the
    /// preview and the apply.
    pub fn fingerprint(&self) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for a in &self.added {
            (&a.code, &a.name, &a.municipality).hash(&mut h);
        }
        for u in &self.updated {
            (u.id, &u.changes).hash(&mut h);
        }
        self.unchanged.hash(&mut h);
        format!("{:016x}", h.finish())
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = institutions)]
struct Existing {
    id: i32,
    code: String,
    fee_table: String,
    category: String,
    is_special_function: bool,
    is_correctional: bool,
    name: String,
    name_kana: Option<String>,
    postcode: Option<String>,
    address: String,
    phone: Option<String>,
    email: Option<String>,
    municipality_id: Option<i32>,
    founder: Option<String>,
    manager: Option<String>,
    designated_on: Option<NaiveDate>,
    departments: Option<String>,
    status: String,
    paper_report: bool,
    target_override: Option<bool>,
}

fn show<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn yes(b: bool) -> String {
    if b { "はい" } else { "いいえ" }.to_string()
}

/// The fields the record gives that differ from the master.
fn changes(
    old: &Existing,
    new: &Record,
    municipality: Option<i32>,
    target: &Target,
) -> Vec<Change> {
    let mut out = Vec::new();
    let mut diff = |field: &str, old: String, new: String| {
        if old != new {
            out.push(Change {
                field: field.to_string(),
                old,
                new,
            });
        }
    };
    diff("名称", old.name.clone(), new.name.clone());
    if let Some(k) = &new.name_kana {
        diff("名称カナ", show(&old.name_kana), k.clone());
    }
    let old_category = Category::from_code(&old.category).map_or("", Category::label);
    diff(
        "種別",
        old_category.to_string(),
        new.category.label().to_string(),
    );
    if new.postcode.is_some() {
        diff("郵便番号", show(&old.postcode), show(&new.postcode));
    }
    diff("所在地", old.address.clone(), new.address.clone());
    if new.phone.is_some() {
        diff("電話番号", show(&old.phone), show(&new.phone));
    }
    if new.email.is_some() {
        diff("メールアドレス", show(&old.email), show(&new.email));
    }
    if new.founder.is_some() {
        diff("開設者", show(&old.founder), show(&new.founder));
    }
    if new.manager.is_some() {
        diff("管理者", show(&old.manager), show(&new.manager));
    }
    if new.designated_on.is_some() {
        diff(
            "指定年月日",
            show(&old.designated_on),
            show(&new.designated_on),
        );
    }
    if new.departments.is_some() {
        diff(
            "診療科・病床",
            show(&old.departments),
            show(&new.departments),
        );
    }
    let old_status = Status::from_code(&old.status).map_or("", Status::label);
    diff(
        "状態",
        old_status.to_string(),
        new.status.label().to_string(),
    );
    if let Some(p) = new.paper_report {
        diff("紙報告", yes(old.paper_report), yes(p));
    }
    if let Some(s) = new.is_special_function {
        diff("特定機能病院", yes(old.is_special_function), yes(s));
    }
    if let Some(c) = new.is_correctional {
        diff("刑事施設等", yes(old.is_correctional), yes(c));
    }
    if let Some(m) = municipality
        && old.municipality_id != Some(m)
    {
        let name = |id: Option<i32>| {
            id.and_then(|id| target.municipalities.iter().find(|x| x.id == id))
                .map(|x| x.name.clone())
                .unwrap_or_default()
        };
        diff("市区町村", name(old.municipality_id), name(Some(m)));
    }
    out
}

fn existing_of(
    conn: &mut DbConnection,
    prefecture_id: i32,
) -> QueryResult<HashMap<String, Existing>> {
    let rows: Vec<Existing> = institutions::table
        .filter(institutions::prefecture_id.eq(prefecture_id))
        .select(Existing::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|e| (e.code.clone(), e)).collect())
}

/// Compares a parsed file with the master of the target prefecture.
pub fn plan(conn: &mut DbConnection, parsed: &Parsed, target: &Target) -> Result<Plan, DbError> {
    let existing = existing_of(conn, target.prefecture_id)?;
    let mut plan = Plan {
        rejected: parsed.rejected.clone(),
        ..Plan::default()
    };
    // Only a full bureau list says which institutions are missing from it.
    let full_list = parsed.layout == Layout::Bureau;
    let mut in_file: HashSet<&str> = HashSet::new();
    if full_list {
        in_file.extend(parsed.rejected.iter().map(|r| r.code.as_str()));
    }
    for record in &parsed.records {
        let code = record.code.to_string();
        if full_list {
            in_file.insert(record.code.as_str());
        }
        if record.code.prefecture() != target.prefecture_code {
            plan.rejected.push(Rejected {
                row: record.row,
                code,
                name: record.name.clone(),
                reason: format!(
                    "都道府県番号 {} は {}（{}）のものではありません",
                    record.code.prefecture(),
                    target.prefecture_name,
                    target.prefecture_code
                ),
                rows: 1,
            });
            continue;
        }
        for w in &record.warnings {
            plan.warnings.push(Warning {
                row: record.row,
                code: code.clone(),
                text: w.clone(),
            });
        }
        let municipality = match_municipality(
            &record.address,
            &target.prefecture_name,
            &target.municipalities,
        );
        match existing.get(&code) {
            None => {
                if municipality.is_none() {
                    plan.unmatched.push(Unmatched {
                        row: record.row,
                        code: code.clone(),
                        name: record.name.clone(),
                        address: record.address.clone(),
                    });
                }
                plan.added.push(Added {
                    row: record.row,
                    code,
                    name: record.name.clone(),
                    municipality: municipality.and_then(|id| {
                        target
                            .municipalities
                            .iter()
                            .find(|m| m.id == id)
                            .map(|m| m.name.clone())
                    }),
                });
            }
            Some(old) => {
                if municipality.is_none() && old.municipality_id.is_none() {
                    plan.unmatched.push(Unmatched {
                        row: record.row,
                        code: code.clone(),
                        name: record.name.clone(),
                        address: record.address.clone(),
                    });
                }
                let changed = changes(old, record, municipality, target);
                if changed.is_empty() {
                    plan.unchanged += 1;
                } else {
                    plan.updated.push(Updated {
                        row: record.row,
                        id: old.id,
                        code,
                        name: record.name.clone(),
                        changes: changed,
                    });
                }
            }
        }
    }
    plan.rejected.sort_by_key(|r| r.row);
    if full_list {
        let digit = parsed.fee_table.digit().to_string();
        let mut missing: Vec<Missing> = existing
            .values()
            .filter(|e| e.fee_table == digit && e.status != Status::Abolished.code())
            .filter(|e| !in_file.contains(e.code.as_str()))
            .map(|e| Missing {
                id: e.id,
                code: e.code.clone(),
                name: e.name.clone(),
            })
            .collect();
        missing.sort_by(|a, b| a.code.cmp(&b.code));
        plan.not_in_file = missing;
    }
    Ok(plan)
}

#[derive(AsChangeset)]
#[diesel(table_name = institutions)]
struct RecordChanges<'a> {
    category: &'a str,
    name: &'a str,
    name_kana: Option<&'a str>,
    postcode: Option<&'a str>,
    address: &'a str,
    phone: Option<&'a str>,
    email: Option<&'a str>,
    founder: Option<&'a str>,
    manager: Option<&'a str>,
    designated_on: Option<NaiveDate>,
    departments: Option<&'a str>,
    status: &'a str,
    paper_report: Option<bool>,
    is_special_function: Option<bool>,
    is_correctional: Option<bool>,
    municipality_id: Option<i32>,
    jurisdiction_id: Option<i32>,
    is_target: bool,
    search_key: &'a str,
    updated_at: NaiveDateTime,
}

/// Who applies an import, for the audit log.
pub struct Actor<'a> {
    pub user_id: Option<i32>,
    pub login: &'a str,
    pub ip: Option<String>,
}

/// Writes what `plan` computed for `parsed`, in the caller's transaction: re-plans
/// against the master as it is now, so a stale preview is caught by the caller
/// comparing fingerprints before calling this.
pub fn apply(
    conn: &mut DbConnection,
    parsed: &Parsed,
    target: &Target,
    actor: &Actor,
    import_id: Option<i32>,
) -> Result<Plan, DbError> {
    let plan = plan(conn, parsed, target)?;
    let records: HashMap<String, &Record> = parsed
        .records
        .iter()
        .map(|r| (r.code.to_string(), r))
        .collect();
    let now = Utc::now().naive_utc();
    let place = |r: &Record| {
        let m = match_municipality(&r.address, &target.prefecture_name, &target.municipalities);
        (m, m.and_then(|m| target.jurisdiction_of.get(&m).copied()))
    };
    let mut new_rows = Vec::with_capacity(plan.added.len());
    for added in &plan.added {
        let Some(r) = records.get(&added.code) else {
            continue;
        };
        let (municipality_id, jurisdiction_id) = place(r);
        let facts = TargetFacts {
            category: r.category,
            is_special_function: r.is_special_function.unwrap_or(false),
            is_correctional: r.is_correctional.unwrap_or(false),
            status: r.status,
        };
        new_rows.push(inst_db::NewInstitution {
            code: added.code.clone(),
            prefecture_code: target.prefecture_code.clone(),
            fee_table: r
                .code
                .fee_table()
                .unwrap_or(FeeTable::Medical)
                .digit()
                .to_string(),
            category: r.category.code().to_string(),
            is_special_function: facts.is_special_function,
            is_correctional: facts.is_correctional,
            name: r.name.clone(),
            name_kana: r.name_kana.clone(),
            postcode: r.postcode.clone(),
            address: r.address.clone(),
            phone: r.phone.clone(),
            email: r.email.clone(),
            prefecture_id: target.prefecture_id,
            jurisdiction_id,
            municipality_id,
            founder: r.founder.clone(),
            manager: r.manager.clone(),
            designated_on: r.designated_on,
            departments: r.departments.clone(),
            status: r.status.code().to_string(),
            paper_report: r.paper_report.unwrap_or(false),
            target_override: None,
            target_override_reason: None,
            is_target: is_reporting_target(facts, None),
            created_at: now,
            updated_at: now,
            short_code: added.code[3..].to_string(),
            search_key: search_key(&r.name),
        });
    }
    inst_db::insert_many(conn, &new_rows)?;

    let mut entries = Vec::with_capacity(plan.added.len() + plan.updated.len());
    let added_ids = inst_db::ids_by_code(conn, plan.added.iter().map(|a| a.code.as_str()))?;
    for added in &plan.added {
        entries.push((
            Action::InstitutionCreate,
            added_ids.get(&added.code).copied(),
            serde_json::json!({ "import": import_id, "code": added.code, "name": added.name }),
        ));
    }

    // Stored flags the file may leave unsaid, and the officers' overrides.
    let stored: HashMap<i32, Existing> = if plan.updated.is_empty() {
        HashMap::new()
    } else {
        existing_of(conn, target.prefecture_id)?
            .into_values()
            .map(|e| (e.id, e))
            .collect()
    };
    for updated in &plan.updated {
        let Some(r) = records.get(&updated.code) else {
            continue;
        };
        let (municipality_id, jurisdiction_id) = place(r);
        let old = stored.get(&updated.id);
        let facts = TargetFacts {
            category: r.category,
            is_special_function: r
                .is_special_function
                .unwrap_or_else(|| old.is_some_and(|o| o.is_special_function)),
            is_correctional: r
                .is_correctional
                .unwrap_or_else(|| old.is_some_and(|o| o.is_correctional)),
            status: r.status,
        };
        let is_target = is_reporting_target(facts, old.and_then(|o| o.target_override));
        let name_key = search_key(&r.name);
        diesel::update(institutions::table.find(updated.id))
            .set(&RecordChanges {
                category: r.category.code(),
                name: &r.name,
                name_kana: r.name_kana.as_deref(),
                postcode: r.postcode.as_deref(),
                address: &r.address,
                phone: r.phone.as_deref(),
                email: r.email.as_deref(),
                founder: r.founder.as_deref(),
                manager: r.manager.as_deref(),
                designated_on: r.designated_on,
                departments: r.departments.as_deref(),
                status: r.status.code(),
                paper_report: r.paper_report,
                is_special_function: r.is_special_function,
                is_correctional: r.is_correctional,
                municipality_id,
                jurisdiction_id,
                is_target,
                search_key: &name_key,
                updated_at: now,
            })
            .execute(conn)?;
        inst_db::index_names(conn, &[(updated.id, &name_key)])?;
        entries.push((
            Action::InstitutionUpdate,
            Some(updated.id),
            serde_json::json!({ "import": import_id, "changes": updated.changes }),
        ));
    }
    let updated: Vec<i32> = plan.updated.iter().map(|u| u.id).collect();
    crate::db::review_index::refresh_institutions(conn, &updated)?;
    audit::record_many(
        conn,
        entries.into_iter().map(|(action, id, detail)| {
            (
                action,
                audit::Entry {
                    actor_id: actor.user_id,
                    actor_login: Some(actor.login.to_string()),
                    target_type: Some("institution"),
                    target_id: id.map(|i| i.to_string()),
                    prefecture_id: Some(target.prefecture_id),
                    detail: Some(detail),
                    ip: actor.ip.clone(),
                },
            )
        }),
    )?;
    Ok(plan)
}
