//! What an institution import would change.
//!
//! [`plan`] compares the parsed file with the master rows: each row is added, updated
//! (with the changed fields), unchanged or rejected; institutions of the same kind
//! missing from a full bureau list are listed as "not in file" and left alone. Writing a
//! plan is `services::imports::institutions`'s.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use super::institutions::{Layout, Parsed, Record, Rejected};
use crate::db::DbError;
use crate::db::master::MasterRow;
use crate::domain::area::{MunicipalityName, match_municipality};
use crate::domain::institution::{Category, Status};

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

fn show<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn yes(b: bool) -> String {
    if b { "はい" } else { "いいえ" }.to_string()
}

/// The fields the record gives that differ from the master.
fn changes(
    old: &MasterRow,
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

/// Compares a parsed file with the master of the target prefecture (`existing`, by
/// code, as `db::master::master_of` reads it).
pub fn plan(existing: &HashMap<String, MasterRow>, parsed: &Parsed, target: &Target) -> Plan {
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
    plan
}
