//! 調査票 (survey forms) for paper reporters: each institution's form pre-printed with
//! its last confirmed answers and this year's NDB counts, exactly as its 定期報告 would
//! start on screen. The print pages and the Excel forms both read these.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::PaperError;
use crate::db::institutions::InstitutionCard;
use crate::db::{self, DbConnection};
use crate::domain::auth::Scope;
use crate::domain::catalog::Catalog;
use crate::domain::determination::Answers;
use crate::domain::report;
use crate::services::catalogs::Catalogs;

/// One institution's form: its card, the pre-printed answers, and the NDB originals
/// (which of those answers came from the NDB).
#[derive(Debug, Clone)]
pub struct Prefilled {
    pub card: InstitutionCard,
    pub answers: Answers,
    pub ndb: Map<String, Value>,
}

/// The forms of one fiscal year, all on one catalog.
#[derive(Debug, Clone)]
pub struct Forms {
    pub fiscal_year: i32,
    pub catalog: Arc<Catalog>,
    pub forms: Vec<Prefilled>,
}

/// Whose forms: one institution, or the paper reporters (reporting targets flagged
/// 紙報告) of the scope, or of one health center in it.
#[derive(Debug, Clone, Copy)]
pub enum Whose {
    One(i32),
    Paper { jurisdiction: Option<i32> },
}

/// The forms, in code order. An institution outside the scope is not found.
pub fn prefilled(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    scope: Scope,
    fiscal_year: i32,
    whose: Whose,
) -> Result<Forms, PaperError> {
    let catalog = catalogs
        .current(conn, fiscal_year)
        .map_err(|e| PaperError::Invalid(e.to_string()))?;
    let cards = match whose {
        Whose::One(id) => {
            vec![db::institutions::card_within(conn, scope, id)?.ok_or(PaperError::NotFound)?]
        }
        Whose::Paper { jurisdiction } => db::paper::paper_cards(conn, scope, jurisdiction)?,
    };
    let mut forms = Vec::with_capacity(cards.len());
    for card in cards {
        let carried = db::reports::last_confirmed_answers(conn, card.id, fiscal_year)?
            .and_then(|a| serde_json::from_str::<Answers>(&a).ok())
            .map(|a| report::carry_over(&catalog, &a))
            .unwrap_or_default();
        let counts = db::ndb::ndb_of(conn, fiscal_year, &card.code)?;
        let (answers, ndb) = report::preprint(&catalog, &carried, &counts);
        forms.push(Prefilled { card, answers, ndb });
    }
    Ok(Forms {
        fiscal_year,
        catalog,
        forms,
    })
}
