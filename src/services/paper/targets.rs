//! 紙面発送対象: set or clear the paper flag of many institutions at once (a preview of
//! exactly which, then the change, each institution's entry in its history), and the
//! count per health center that the printing starts from.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::PaperError;
use crate::db::audit::{self, Action};
use crate::db::institutions::SearchFilter;
use crate::db::paper as store;
use crate::db::{self, DbConnection, changes::Counter};
use crate::domain::auth::Scope;
use crate::services::Actor;

/// What a bulk change would do.
#[derive(Debug, Clone, Serialize)]
pub struct FlagPreview {
    /// Set (true) or clear (false) the flag.
    pub paper: bool,
    /// Every institution asked for within the scope, code order: id, code, name, now.
    pub rows: Vec<store::Flagged>,
    /// How many of them the change would actually change.
    pub changes: usize,
    /// Ids asked for that are outside the scope or unknown (dropped).
    pub dropped: usize,
}

/// The institutions a bulk change takes: those ticked, or every one the search finds.
pub enum Chosen<'a> {
    Ticked(&'a [i32]),
    Search(&'a SearchFilter),
}

pub fn preview(
    conn: &mut DbConnection,
    scope: Scope,
    chosen: Chosen,
    paper: bool,
) -> Result<FlagPreview, PaperError> {
    let ids = match chosen {
        Chosen::Ticked(ids) => ids.to_vec(),
        Chosen::Search(filter) => store::matching_ids(conn, scope, filter)?,
    };
    if ids.is_empty() {
        return Err(PaperError::Invalid(
            "医療機関を選んでください（一覧のチェック、または検索結果すべて）".into(),
        ));
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    let rows = store::within_scope(conn, scope, &unique)?;
    Ok(FlagPreview {
        paper,
        changes: rows.iter().filter(|r| r.3 != paper).count(),
        dropped: unique.len() - rows.len(),
        rows,
    })
}

/// Sets or clears the flag of the previewed institutions still within the scope, in
/// one transaction; each changed institution gets its entry in 操作履歴. How many
/// changed.
pub fn apply(
    conn: &mut DbConnection,
    actor: &Actor,
    ids: &[i32],
    paper: bool,
    now: NaiveDateTime,
) -> Result<usize, PaperError> {
    let changed = db::write_transaction(conn, |conn| {
        let rows = store::within_scope(conn, actor.scope, ids)?;
        let to_change: Vec<&store::Flagged> = rows.iter().filter(|r| r.3 != paper).collect();
        let change_ids: Vec<i32> = to_change.iter().map(|r| r.0).collect();
        store::set_paper(conn, &change_ids, paper, now)?;
        for (id, code, _, was) in to_change {
            let detail = serde_json::json!({
                "code": code,
                "before": { "paper": was },
                "after": { "paper": paper },
                "bulk": true,
            });
            let entry = actor.entry("institution", *id, None, Some(detail));
            audit::record(conn, Action::InstitutionUpdate, entry)?;
        }
        Ok::<_, PaperError>(change_ids.len())
    })?;
    if changed > 0 {
        crate::services::changed(conn, &[Counter::Master])?;
    }
    Ok(changed)
}

/// One health center's line: its reporting targets and paper reporters among them.
#[derive(Debug, Clone, Serialize)]
pub struct CenterLine {
    pub jurisdiction_id: Option<i32>,
    pub name: String,
    pub targets: i64,
    pub paper: i64,
}

/// 紙面発送対象 per health center within the scope, in the areas' order, with the total.
pub fn by_center(
    conn: &mut DbConnection,
    scope: Scope,
) -> Result<(Vec<CenterLine>, CenterLine), PaperError> {
    let counts = store::counts_by_jurisdiction(conn, scope)?;
    let centers = crate::db::areas::within(conn, scope)?;
    let mut lines: Vec<CenterLine> = centers
        .iter()
        .filter(|a| a.kind == "jurisdiction")
        .filter_map(|a| {
            let (_, targets, paper) = counts.iter().find(|c| c.0 == Some(a.id))?;
            Some(CenterLine {
                jurisdiction_id: Some(a.id),
                name: a.name.clone(),
                targets: *targets,
                paper: *paper,
            })
        })
        .collect();
    if let Some((_, targets, paper)) = counts.iter().find(|c| c.0.is_none()) {
        lines.push(CenterLine {
            jurisdiction_id: None,
            name: "（保健所未設定）".into(),
            targets: *targets,
            paper: *paper,
        });
    }
    let total = CenterLine {
        jurisdiction_id: None,
        name: "合計".into(),
        targets: lines.iter().map(|l| l.targets).sum(),
        paper: lines.iter().map(|l| l.paper).sum(),
    };
    Ok((lines, total))
}
