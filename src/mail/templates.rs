//! Mail templates: the shipped defaults (`mail_templates/<key>/`, built into the
//! binary), a prefecture's edits over them, rendering and the checks on save.

use crate::domain::mail::TemplateKey;

/// A template as it will be rendered: the prefecture's edit, or the default (revision 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub subject: String,
    pub body: String,
    pub revision: i32,
}

macro_rules! defaults {
    ($($key:ident => $dir:literal),* $(,)?) => {
        /// The shipped default of a template.
        pub fn default_of(key: TemplateKey) -> Template {
            let (subject, body) = match key {
                $(TemplateKey::$key => (
                    include_str!(concat!("../../mail_templates/", $dir, "/subject.txt")),
                    include_str!(concat!("../../mail_templates/", $dir, "/body.txt")),
                ),)*
            };
            Template {
                subject: subject.trim_end().to_string(),
                body: body.to_string(),
                revision: 0,
            }
        }
    };
}

defaults! {
    Guidance => "guidance",
    Reminder => "reminder",
    SentBack => "sent_back",
    Receipt => "receipt",
    AccountSetup => "account_setup",
    PasswordReset => "password_reset",
    ApplicationReceived => "application_received",
    ApplicationRejected => "application_rejected",
    OfficerDigest => "officer_digest",
}

/// A rendered message: one-line subject, plain-text body with the contact footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

/// Which part of a template is wrong, and why, in words an officer can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub field: &'static str,
    pub message: String,
}

/// A template parsed once, for rendering many messages (a broadcast renders tens of
/// thousands).
pub struct Compiled {
    tera: tera::Tera,
}

impl Compiled {
    pub fn of(template: &Template) -> Result<Compiled, TemplateProblem> {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![]);
        for (field, text) in [("subject", &template.subject), ("body", &template.body)] {
            tera.add_raw_template(field, text)
                .map_err(|e| TemplateProblem {
                    field,
                    message: explain(&e),
                })?;
        }
        Ok(Compiled { tera })
    }

    pub fn render(
        &self,
        values: &tera::Context,
        contact: &str,
    ) -> Result<Rendered, TemplateProblem> {
        let part = |field: &'static str| {
            self.tera
                .render(field, values)
                .map_err(|e| TemplateProblem {
                    field,
                    message: explain(&e),
                })
        };
        let (subject, body) = (part("subject")?, part("body")?);
        // A subject is one line: a value with a line break must not start a header.
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut body = body.replace("\r\n", "\n");
        if !body.ends_with('\n') {
            body.push('\n');
        }
        if !contact.trim().is_empty() {
            body.push_str("\n――――――――――――――――――――\n");
            body.push_str(contact.trim());
            body.push('\n');
        }
        Ok(Rendered { subject, body })
    }
}

fn render_part(
    field: &'static str,
    text: &str,
    values: &tera::Context,
) -> Result<String, TemplateProblem> {
    tera::Tera::one_off(text, values, false).map_err(|e| TemplateProblem {
        field,
        message: explain(&e),
    })
}

/// Tera's message, with its cause (the useful part: which variable, which line).
fn explain(e: &tera::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    let text = parts.join(": ");
    if let Some(name) = text
        .split("Variable `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
    {
        return format!(
            "変数 {name} は使えません。使える変数は一覧のとおりです ({})",
            text.replace("__tera_one_off", "template")
        );
    }
    format!(
        "テンプレートの書き方に誤りがあります: {}",
        text.replace("__tera_one_off", "template")
    )
}

/// Sample values for every variable of a template (for the check on save).
pub fn sample_values(key: TemplateKey) -> tera::Context {
    let mut values = tera::Context::new();
    for v in key.variables() {
        values.insert(v.name, &format!("〈{}〉", v.meaning));
    }
    values
}

/// The checks on save: both parts render with the template's own variables and no
/// others, and the subject is not empty.
pub fn validate(key: TemplateKey, subject: &str, body: &str) -> Vec<TemplateProblem> {
    let values = sample_values(key);
    let mut problems = Vec::new();
    if subject.trim().is_empty() {
        problems.push(TemplateProblem {
            field: "subject",
            message: "件名を入力してください".into(),
        });
    } else if let Err(p) = render_part("subject", subject, &values) {
        problems.push(p);
    }
    if body.trim().is_empty() {
        problems.push(TemplateProblem {
            field: "body",
            message: "本文を入力してください".into(),
        });
    } else if let Err(p) = render_part("body", body, &values) {
        problems.push(p);
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_renders_with_its_own_variables() {
        for key in TemplateKey::ALL {
            let t = default_of(key);
            assert!(validate(key, &t.subject, &t.body).is_empty(), "{key:?}");
            let r = Compiled::of(&t)
                .unwrap()
                .render(&sample_values(key), "鹿児島県 医療政策課 099-000-0000")
                .unwrap();
            assert!(!r.subject.contains('\n'));
            assert!(r.body.ends_with("099-000-0000\n"), "{key:?}");
        }
    }

    #[test]
    fn an_unknown_variable_or_broken_syntax_is_refused_with_a_message() {
        let p = validate(TemplateKey::Reminder, "{{ institution_nam }}", "本文");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].field, "subject");
        assert!(p[0].message.contains("institution_nam"), "{}", p[0].message);
        let p = validate(TemplateKey::Reminder, "件名", "{% if %}");
        assert_eq!(p[0].field, "body");
        assert!(p[0].message.contains("書き方"), "{}", p[0].message);
        let p = validate(TemplateKey::Reminder, " ", "");
        assert_eq!(p.len(), 2);
        // A variable of another template is unknown here.
        assert_eq!(
            validate(TemplateKey::Guidance, "{{ reason }}", "x").len(),
            1
        );
    }

    #[test]
    fn a_value_cannot_break_the_subject_line() {
        let t = Template {
            subject: "件名 {{ institution_name }}".into(),
            body: "本文".into(),
            revision: 1,
        };
        let mut values = tera::Context::new();
        values.insert("institution_name", "A\r\nBcc: x@y.jp");
        let r = Compiled::of(&t).unwrap().render(&values, "").unwrap();
        assert_eq!(r.subject, "件名 A Bcc: x@y.jp");
        assert_eq!(r.body, "本文\n");
    }
}
