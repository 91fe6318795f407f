//! A message from its outbox row: the template (the prefecture's edit or the default),
//! the institution's and the reporting period's values, the contact footer, and the
//! re-check that a reminder still applies. The worker and the previews use the same.

use std::collections::HashMap;

use super::templates::{self, Compiled, Rendered, Template};
use crate::db::mail::{self as store, ClaimedRow};
use crate::db::periods::PeriodRow;
use crate::db::{DbConnection, DbError};
use crate::domain::mail::{self, TemplateKey};
use crate::domain::report::Status;
use crate::domain::wareki;

/// What to do with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    Send {
        to: String,
        rendered: Rendered,
    },
    /// Not sent on purpose (the reminder no longer applies), with the reason.
    Skip(String),
    /// Cannot be sent (bad address, broken template, institution gone), with the reason.
    Fail(String),
}

/// Composes messages, reading each template and period once.
pub struct Composer {
    public_url: String,
    templates: HashMap<(i32, TemplateKey), Template>,
    compiled: HashMap<(i32, TemplateKey), Result<Compiled, String>>,
    periods: HashMap<(i32, i32), Option<PeriodRow>>,
    /// Code and name of the institutions of a claim, read in one query.
    institutions: HashMap<i32, (String, String)>,
}

impl Composer {
    pub fn new(public_url: &str) -> Composer {
        Composer {
            public_url: public_url.trim_end_matches('/').to_string(),
            templates: HashMap::new(),
            compiled: HashMap::new(),
            periods: HashMap::new(),
            institutions: HashMap::new(),
        }
    }

    /// Uses `template` instead of the stored one (the editor's preview of unsaved text).
    pub fn with_template(
        mut self,
        prefecture_id: i32,
        key: TemplateKey,
        template: Template,
    ) -> Self {
        self.templates.insert((prefecture_id, key), template);
        self
    }

    /// Reads the institutions of these rows at once.
    pub fn prefetch(
        &mut self,
        conn: &mut DbConnection,
        rows: &[ClaimedRow],
    ) -> Result<(), DbError> {
        let ids: Vec<i32> = rows.iter().filter_map(|r| r.institution_id).collect();
        self.institutions
            .extend(store::institution_names(conn, &ids)?);
        Ok(())
    }

    /// The message of a row. `recheck`: a broadcast reminder goes only to an
    /// institution that is still unreported at this moment.
    pub fn compose(
        &mut self,
        conn: &mut DbConnection,
        row: &ClaimedRow,
        fiscal_year: Option<i32>,
        recheck: bool,
    ) -> Result<Prepared, DbError> {
        let Some(key) = TemplateKey::from_code(&row.template_key) else {
            return Ok(Prepared::Fail(format!(
                "不明なテンプレート {}",
                row.template_key
            )));
        };
        let mut values = tera::Context::new();
        if let Ok(serde_json::Value::Object(extra)) = serde_json::from_str(&row.context) {
            for (k, v) in extra {
                values.insert(k, &v);
            }
        }
        if let (Some(institution), Some(fy)) = (row.institution_id, fiscal_year) {
            if recheck && key == TemplateKey::Reminder {
                let status = store::report_status(conn, institution, fy)?;
                if let Some(reason) = reminder_no_longer_applies(status.as_deref()) {
                    return Ok(Prepared::Skip(reason));
                }
            }
            if !self.institutions.contains_key(&institution) {
                self.institutions
                    .extend(store::institution_names(conn, &[institution])?);
            }
            let Some((code, name)) = self.institutions.get(&institution) else {
                return Ok(Prepared::Fail("医療機関が見つかりません".into()));
            };
            values.insert("institution_name", name);
            values.insert("institution_code", code);
        }
        let mut contact = String::new();
        if let Some(fy) = fiscal_year {
            values.insert("fiscal_year", &wareki::fiscal_year_label(fy));
            if let Some(period) = self.period(conn, row.prefecture_id, fy)? {
                values.insert("period_start", &wareki::date_wareki(period.opens_on));
                values.insert("period_end", &wareki::date_wareki(period.deadline));
                contact = period.contact.clone();
            }
        }
        // A message about one report links to it; others to the home page.
        let report_url = match values.get("report_id").and_then(|v| v.as_i64()) {
            Some(id) => format!("{}/reports/{id}", self.public_url),
            None => format!("{}/", self.public_url),
        };
        values.insert("report_url", &report_url);
        values.insert("login_url", &format!("{}/login", self.public_url));
        // A password link is derived from this row: a message sent again after a crash
        // carries the same link, and the token itself is stored nowhere.
        if matches!(key, TemplateKey::AccountSetup | TemplateKey::PasswordReset) {
            let secret = crate::db::links::key(conn)?;
            let token = crate::domain::links::token_for_outbox(&secret, row.id);
            values.insert("link", &format!("{}/account/link/{token}", self.public_url));
        }
        values.insert("news_url", &format!("{}/review/news", self.public_url));
        let template = self.template(conn, row.prefecture_id, key)?;
        let compiled = self
            .compiled
            .entry((row.prefecture_id, key))
            .or_insert_with(|| Compiled::of(&template).map_err(|p| p.message));
        let rendered = match compiled
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|c| c.render(&values, &contact).map_err(|p| p.message))
        {
            Ok(r) => r,
            Err(message) => {
                return Ok(Prepared::Fail(format!(
                    "テンプレートを表示できません: {message}"
                )));
            }
        };
        match mail::recipient_address(Some(&row.to_address)) {
            Ok(to) => Ok(Prepared::Send { to, rendered }),
            Err(problem) => Ok(Prepared::Fail(problem.to_string())),
        }
    }

    /// The template a prefecture's mail uses: its edit, or the shipped default.
    pub fn template(
        &mut self,
        conn: &mut DbConnection,
        prefecture_id: i32,
        key: TemplateKey,
    ) -> Result<Template, DbError> {
        if let Some(t) = self.templates.get(&(prefecture_id, key)) {
            return Ok(t.clone());
        }
        let t = stored_or_default(conn, prefecture_id, key)?;
        self.templates.insert((prefecture_id, key), t.clone());
        Ok(t)
    }

    fn period(
        &mut self,
        conn: &mut DbConnection,
        prefecture_id: i32,
        fiscal_year: i32,
    ) -> Result<Option<&PeriodRow>, DbError> {
        let period =
            match self.periods.entry((prefecture_id, fiscal_year)) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    crate::db::periods::period(conn, prefecture_id, fiscal_year)?,
                ),
            };
        Ok(period.as_ref())
    }
}

/// A prefecture's edit of a template, or the shipped default.
pub fn stored_or_default(
    conn: &mut DbConnection,
    prefecture_id: i32,
    key: TemplateKey,
) -> Result<Template, DbError> {
    Ok(match store::template(conn, prefecture_id, key.code())? {
        Some(row) => Template {
            subject: row.subject,
            body: row.body,
            revision: row.revision,
        },
        None => templates::default_of(key),
    })
}

/// Why a reminder is not sent: the institution reported meanwhile (`None`: still due).
pub fn reminder_no_longer_applies(status: Option<&str>) -> Option<String> {
    let status = status?;
    if status == crate::db::review::NOT_REPORTED {
        return None;
    }
    match Status::from_code(status) {
        Some(Status::Draft | Status::Returned) | None => None,
        Some(s) => Some(format!("報告済みのため送信しませんでした（{}）", s.label())),
    }
}

/// The fiscal year a transactional message is about (kept in its context).
pub fn context_year(context: &str) -> Option<i32> {
    let value: serde_json::Value = serde_json::from_str(context).ok()?;
    value.get("fiscal_year_number")?.as_i64().map(|y| y as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reminder_is_skipped_once_the_institution_has_reported() {
        assert_eq!(reminder_no_longer_applies(None), None);
        assert_eq!(reminder_no_longer_applies(Some("none")), None);
        assert_eq!(reminder_no_longer_applies(Some(Status::Draft.code())), None);
        assert_eq!(
            reminder_no_longer_applies(Some(Status::Returned.code())),
            None
        );
        for s in [Status::Submitted, Status::Resubmitted, Status::Confirmed] {
            let reason = reminder_no_longer_applies(Some(s.code())).unwrap();
            assert!(reason.contains(s.label()), "{reason}");
        }
    }

    #[test]
    fn the_year_of_a_transactional_message_is_in_its_context() {
        assert_eq!(context_year(r#"{"fiscal_year_number": 2026}"#), Some(2026));
        assert_eq!(context_year("{}"), None);
        assert_eq!(context_year("not json"), None);
    }
}
