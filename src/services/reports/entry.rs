//! Saving one section of a draft (一時保存 or 入力完了), with the conflict answer when
//! someone saved in between.

use chrono::Utc;

use super::{Actor, Catalogs, ReportError, load, to_json};
use crate::db::DbConnection;
use crate::db::changes::Counter;
use crate::db::reports::{self as store, DraftUpdate};
use crate::domain::catalog::Catalog;
use crate::domain::determination::{self, AnswerProblem, Answers};
use crate::domain::report::{self, IllegalTransition};

/// What became of a section save.
#[derive(Debug)]
pub enum SaveOutcome {
    Saved {
        complete: bool,
    },
    /// Nothing saved: the values as read, with messages per field and for the form.
    Invalid {
        errors: std::collections::BTreeMap<String, String>,
        general: Vec<String>,
    },
    /// Someone saved since this form was opened: both sides of this section.
    Conflict {
        mine: Answers,
        theirs: Answers,
        revision: i32,
    },
}

/// The answers of one section only.
pub fn section_answers(catalog: &Catalog, answers: &Answers, section: &str) -> Answers {
    answers
        .iter()
        .filter(|(k, _)| {
            let base = k.split(':').next().unwrap_or(k);
            catalog.item(base).is_some_and(|i| i.section == section)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What the user sent for a section: the entry form as posted, or answers already
/// chosen (the conflict page).
#[derive(Debug, Clone)]
pub enum Sent {
    Form(report::FormValues),
    Answers(Answers),
}

/// One section's answers as the user sent them.
#[derive(Debug, Clone)]
pub struct SectionSave {
    pub report_id: i32,
    pub section: String,
    pub sent: Sent,
    /// The draft revision the form was made from.
    pub revision: i32,
    /// 入力完了 rather than 一時保存.
    pub complete: bool,
}

/// Saves one section (一時保存, or 入力完了 when `complete`), only if the form was made
/// from the current revision.
pub fn save_section(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &Actor,
    save: SectionSave,
) -> Result<SaveOutcome, ReportError> {
    let SectionSave {
        report_id: id,
        section,
        sent,
        revision,
        complete,
    } = save;
    let section = section.as_str();
    let done = crate::services::write_counted(
        conn,
        &[Counter::Reports],
        |done| matches!(done, SaveOutcome::Saved { .. }),
        |conn| {
            let loaded = load(conn, catalogs, actor.scope, id)?;
            if loaded.catalog.section(section).is_none() {
                return Err(ReportError::NotFound);
            }
            if !loaded.status.editable() {
                return Err(IllegalTransition {
                    from: loaded.status.label(),
                    action: "編集",
                }
                .into());
            }
            let catalog = &loaded.catalog;
            // The form is read here, with the catalog the save is checked against, so a
            // save costs one read of the report.
            let mine = match sent {
                Sent::Answers(a) => a,
                Sent::Form(form) => {
                    let input = report::read_section(catalog, section, &form);
                    if !input.errors.is_empty() || !input.unknown.is_empty() {
                        let general = input
                            .unknown
                            .iter()
                            .map(|k| {
                                format!(
                                    "報告項目にない項目「{k}」が送信されました。保存していません。"
                                )
                            })
                            .chain((!input.errors.is_empty()).then(|| {
                                "保存していません。赤字の項目を直してください。".to_string()
                            }))
                            .collect();
                        return Ok(SaveOutcome::Invalid {
                            errors: input.errors,
                            general,
                        });
                    }
                    input.answers
                }
            };
            // Values of the wrong kind never reach the draft, whatever was posted.
            let wrong: Vec<AnswerProblem> = determination::validate(catalog, &mine)
                .into_iter()
                .filter(|p| mine.contains_key(&p.item))
                .collect();
            let foreign: Vec<&String> = mine
                .keys()
                .filter(|k| {
                    let base = k.split(':').next().unwrap_or(k);
                    catalog.item(base).is_none_or(|i| i.section != section)
                })
                .collect();
            if !wrong.is_empty() || !foreign.is_empty() {
                return Ok(SaveOutcome::Invalid {
                    errors: wrong.into_iter().map(|p| (p.item, p.message)).collect(),
                    general: foreign
                        .iter()
                        .map(|k| format!("報告項目にない項目「{k}」が送信されました"))
                        .collect(),
                });
            }
            if loaded.report.revision != revision {
                return Ok(SaveOutcome::Conflict {
                    theirs: section_answers(catalog, &loaded.answers, section),
                    mine,
                    revision: loaded.report.revision,
                });
            }
            let merged = report::merge_section(catalog, &loaded.answers, section, &mine);
            if complete {
                let problems = report::section_problems(catalog, section, &merged);
                if !problems.is_empty() {
                    return Ok(SaveOutcome::Invalid {
                        errors: problems.into_iter().map(|p| (p.item, p.message)).collect(),
                        general: vec![
                            "入力完了にできません。表示された項目を確かめてください。".into(),
                        ],
                    });
                }
            }
            let mut marks = loaded.marks.clone();
            marks.insert(
                section.to_string(),
                if complete { "complete" } else { "saved" }.to_string(),
            );
            let d = determination::determine(catalog, &merged);
            let saved = store::save_draft(
                conn,
                id,
                revision,
                &DraftUpdate {
                    answers: &to_json(&merged)?,
                    sections: &to_json(&marks)?,
                    catalog_version: &catalog.version,
                    determination: &d,
                    proxy: loaded.report.proxy || actor.officer,
                    by: actor.user_id,
                    at: Utc::now().naive_utc(),
                },
            )?;
            if !saved {
                let now = load(conn, catalogs, actor.scope, id)?;
                return Ok(SaveOutcome::Conflict {
                    theirs: section_answers(catalog, &now.answers, section),
                    mine,
                    revision: now.report.revision,
                });
            }
            Ok(SaveOutcome::Saved { complete })
        },
    )?;
    Ok(done)
}
