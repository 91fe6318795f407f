//! メールテンプレート: a prefecture's edits over the shipped defaults, checked on save,
//! and previews for one institution.

use chrono::Utc;

use super::{MailError, draft_row, prefecture_of};
use crate::db::DbConnection;
use crate::db::audit::{self, Action};
use crate::db::mail as store;
use crate::domain::auth::Scope;
use crate::domain::mail::TemplateKey;
use crate::mail::compose::{Composer, Prepared};
use crate::mail::templates::{self, Template};
use crate::services::Actor;

/// Saves a prefecture's edit of a template after checking it; nothing is saved when
/// it has an unknown variable or a syntax error. The new revision.
pub fn save_template(
    conn: &mut DbConnection,
    actor: &Actor,
    key: TemplateKey,
    subject: &str,
    body: &str,
) -> Result<i32, MailError> {
    let problems = templates::validate(key, subject, body);
    if !problems.is_empty() {
        return Err(MailError::Template(problems));
    }
    let prefecture_id = prefecture_of(conn, actor.scope)?;
    crate::db::write_transaction(conn, |conn| {
        let now = Utc::now().naive_utc();
        let revision = store::save_template(
            conn,
            prefecture_id,
            key.code(),
            subject.trim_end(),
            body,
            actor.user_id,
            now,
        )?;
        let entry = actor.entry(
            "mail_template",
            key.code(),
            Some(prefecture_id),
            Some(serde_json::json!({ "revision": revision })),
        );
        audit::record(conn, Action::MailTemplateSave, entry)?;
        Ok(revision)
    })
}

/// Goes back to the shipped default.
pub fn reset_template(
    conn: &mut DbConnection,
    actor: &Actor,
    key: TemplateKey,
) -> Result<(), MailError> {
    let prefecture_id = prefecture_of(conn, actor.scope)?;
    crate::db::write_transaction(conn, |conn| {
        if store::reset_template(conn, prefecture_id, key.code())? {
            let entry = actor.entry(
                "mail_template",
                key.code(),
                Some(prefecture_id),
                Some(serde_json::json!({ "reset": true })),
            );
            audit::record(conn, Action::MailTemplateSave, entry)?;
        }
        Ok(())
    })
}

/// The template a prefecture's mail uses now.
pub fn template(
    conn: &mut DbConnection,
    scope: Scope,
    key: TemplateKey,
) -> Result<Template, MailError> {
    let prefecture_id = prefecture_of(conn, scope)?;
    Ok(crate::mail::compose::stored_or_default(
        conn,
        prefecture_id,
        key,
    )?)
}

/// A template (saved or being edited) rendered for one institution of the actor's
/// scope; `None` for an institution outside it.
pub fn render_for(
    conn: &mut DbConnection,
    scope: Scope,
    public_url: &str,
    key: TemplateKey,
    template: Template,
    fiscal_year: i32,
    institution_id: i32,
) -> Result<Prepared, MailError> {
    let prefecture_id = prefecture_of(conn, scope)?;
    let card = crate::db::institutions::card_within(conn, scope, institution_id)?
        .ok_or(MailError::NotFound)?;
    let address = card.email.clone().unwrap_or_default();
    let context = serde_json::json!({
        "reason": "（差戻しの理由がここに入ります）",
        "submitted_at": "（受付日時がここに入ります）",
        "fiscal_year_number": fiscal_year,
    })
    .to_string();
    let row = draft_row(prefecture_id, key, institution_id, &address, &context);
    let mut composer = Composer::new(public_url).with_template(prefecture_id, key, template);
    Ok(composer.compose(conn, &row, Some(fiscal_year), false)?)
}

/// The institution a template preview is shown for: the code typed (within the
/// scope), or the first reporting target with an address.
pub fn institution_for_preview(
    conn: &mut DbConnection,
    scope: Scope,
    code: &str,
) -> Result<i32, MailError> {
    let code = crate::domain::codes::search_code(code).map_err(MailError::Invalid)?;
    let found = match code {
        Some(code) => store::id_by_code_within(conn, scope, &code)?,
        None => store::first_target_within(conn, scope)?,
    };
    found.ok_or(MailError::NotFound)
}

/// The editor's preview: the typed text checked like a save, then rendered for the
/// institution with the code typed (or the first target with an address).
pub fn preview_template(
    conn: &mut DbConnection,
    scope: Scope,
    public_url: &str,
    key: TemplateKey,
    template: Template,
    code: &str,
    fiscal_year: i32,
) -> Result<Prepared, MailError> {
    let problems = templates::validate(key, &template.subject, &template.body);
    if !problems.is_empty() {
        return Err(MailError::Template(problems));
    }
    let institution = institution_for_preview(conn, scope, code)?;
    render_for(
        conn,
        scope,
        public_url,
        key,
        template,
        fiscal_year,
        institution,
    )
}
