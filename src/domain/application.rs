//! An institution's application for an account (新規ユーザ登録申請, seed 004): the form
//! as typed, its checks, and what officers must look at when it is compared with the
//! institution master. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::codes::InstitutionCode;
use super::normalize::{nfkc, search_key};

pub type FieldErrors = BTreeMap<&'static str, String>;

/// The form as typed, kept so that a refused form comes back as it was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationInput {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub person: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub email_again: String,
    #[serde(default)]
    pub phone: String,
    /// Hidden from people by the stylesheet; a robot fills it in.
    #[serde(default)]
    pub website: String,
}

/// The code as typed: the whole 10 digits (check digit verified), or the 7 printed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypedCode {
    Full(String),
    Printed(String),
}

impl TypedCode {
    pub fn as_str(&self) -> &str {
        match self {
            TypedCode::Full(c) | TypedCode::Printed(c) => c,
        }
    }
}

/// A checked application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub code: TypedCode,
    pub name: String,
    pub person: String,
    pub email: String,
    pub phone: String,
}

impl ApplicationInput {
    /// True when the hidden field was filled in: answered like any other, kept nowhere.
    pub fn is_robot(&self) -> bool {
        !self.website.trim().is_empty()
    }

    pub fn read(&self) -> Result<Application, FieldErrors> {
        let mut errors = FieldErrors::new();
        let digits: String = nfkc(&self.code)
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let code = match digits.len() {
            10 => match InstitutionCode::parse(&digits) {
                Ok(c) => Some(TypedCode::Full(c.as_str().to_string())),
                Err(e) => {
                    errors.insert("code", e.to_string());
                    None
                }
            },
            7 => Some(TypedCode::Printed(digits)),
            _ => {
                errors.insert(
                    "code",
                    "医療機関コードは10桁（または郡市区番号からの7桁）で入力してください".into(),
                );
                None
            }
        };
        let mut text = |field: &'static str, value: &str, label: &str, most: usize| {
            let value = nfkc(value).trim().to_string();
            if value.is_empty() {
                errors.insert(field, format!("{label}を入力してください"));
            } else if value.chars().count() > most || value.chars().any(char::is_control) {
                errors.insert(field, format!("{label}は{most}文字以内で入力してください"));
            }
            value
        };
        let name = text("name", &self.name, "医療機関名", 100);
        let person = text("person", &self.person, "担当者名", 50);
        let email = self.email.trim().to_string();
        if let Err(problem) = super::mail::recipient_address(Some(&email)) {
            errors.insert("email", problem.to_string());
        } else if email != self.email_again.trim() {
            errors.insert("email_again", "確認用のメールアドレスが一致しません".into());
        }
        let phone: String = nfkc(&self.phone)
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '(' | ')'))
            .collect();
        if !(10..=11).contains(&phone.len()) || !phone.bytes().all(|b| b.is_ascii_digit()) {
            errors.insert(
                "phone",
                "電話番号は市外局番から10桁か11桁で入力してください".into(),
            );
        }
        match code {
            Some(code) if errors.is_empty() => Ok(Application {
                code,
                name,
                person,
                email,
                phone,
            }),
            _ => Err(errors),
        }
    }
}

/// What officers must look at in an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// No institution of the master has the code.
    NoMatch,
    /// The institution does not report (not a target).
    NotTarget,
    /// The typed name is not the master's (after the search's normalisation).
    NameDiffers,
    /// The institution already has an account.
    HasAccount,
    /// Another application for the institution awaits a decision.
    Duplicate,
    /// The address's domain is not that of the master's address.
    EmailDomainDiffers,
}

impl Flag {
    pub fn label(self) -> &'static str {
        match self {
            Flag::NoMatch => "マスタにない医療機関コード",
            Flag::NotTarget => "報告対象外",
            Flag::NameDiffers => "名称がマスタと異なる",
            Flag::HasAccount => "すでにアカウントあり",
            Flag::Duplicate => "同じ医療機関の申請が審査待ち",
            Flag::EmailDomainDiffers => "メールのドメインがマスタと異なる",
        }
    }

    /// Flags that forbid approving (no second account, only a reporting target).
    pub fn blocks_approval(self) -> bool {
        matches!(self, Flag::NoMatch | Flag::NotTarget | Flag::HasAccount)
    }
}

/// What the master says of the institution an application names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterFacts {
    pub name: String,
    pub email: Option<String>,
    pub is_target: bool,
    pub has_account: bool,
    pub pending_applications: usize,
}

fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
}

pub fn flags(application: &Application, master: Option<&MasterFacts>) -> Vec<Flag> {
    flags_of(&application.name, &application.email, master)
}

/// Whether an application may be approved among many at once (一括承認): it names a
/// reporting target with no account, no other application awaiting a decision, and
/// its code, normalised name and e-mail domain all match the master. `master` counts
/// only the *other* pending applications.
pub fn approvable_in_bulk(name: &str, email: &str, master: &MasterFacts) -> bool {
    flags_of(name, email, Some(master)).is_empty()
}

fn flags_of(name: &str, email: &str, master: Option<&MasterFacts>) -> Vec<Flag> {
    let Some(m) = master else {
        return vec![Flag::NoMatch];
    };
    let mut out = Vec::new();
    if !m.is_target {
        out.push(Flag::NotTarget);
    }
    if search_key(name) != search_key(&m.name) {
        out.push(Flag::NameDiffers);
    }
    if m.has_account {
        out.push(Flag::HasAccount);
    }
    if m.pending_applications > 0 {
        out.push(Flag::Duplicate);
    }
    if m.email.as_deref().and_then(domain_of) != domain_of(email) {
        out.push(Flag::EmailDomainDiffers);
    }
    out
}

/// An institution user's login ID: the code and the first free two-digit suffix.
pub fn login_id(code: &str, taken: &[String]) -> String {
    (1..100)
        .map(|n| format!("{code}-{n:02}"))
        .find(|id| !taken.contains(id))
        .unwrap_or_else(|| format!("{code}-99"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ApplicationInput {
        ApplicationInput {
            code: "１０１００４４".into(),
            name: "さくら内科クリニック".into(),
            person: "鹿児島 花子".into(),
            email: "info@sakura.example.jp".into(),
            email_again: "info@sakura.example.jp".into(),
            phone: "099-123-4567".into(),
            website: String::new(),
        }
    }

    #[test]
    fn the_form_is_read_as_people_type_it() {
        let mut i = input();
        let code = crate::domain::codes::InstitutionCode::with_check_digit(
            46,
            crate::domain::codes::FeeTable::Medical,
            1,
            4,
        );
        i.code = code.as_str().to_string();
        let a = i.read().unwrap();
        assert_eq!(a.code, TypedCode::Full(code.as_str().to_string()));
        assert_eq!(a.phone, "0991234567");
        i.code = "１０１００４４".into();
        assert_eq!(i.read().unwrap().code, TypedCode::Printed("1010044".into()));
        let wrong_digit = format!(
            "{}{}",
            &code.as_str()[..9],
            (code.as_str().as_bytes()[9] - b'0' + 1) % 10
        );
        i.code = wrong_digit;
        i.email_again = "other@sakura.example.jp".into();
        i.phone = "12".into();
        i.person = " ".into();
        let errors = i.read().unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["code", "email_again", "person", "phone"]
        );
        assert!(!input().is_robot());
    }

    #[test]
    fn flags_say_what_to_look_at() {
        let a = input().read().unwrap();
        assert_eq!(flags(&a, None), [Flag::NoMatch]);
        let m = MasterFacts {
            name: "さくら内科クリニック".into(),
            email: Some("office@SAKURA.example.jp".into()),
            is_target: true,
            has_account: false,
            pending_applications: 0,
        };
        assert!(flags(&a, Some(&m)).is_empty());
        let other = MasterFacts {
            name: "桜外科医院".into(),
            email: None,
            is_target: false,
            has_account: true,
            pending_applications: 1,
        };
        let f = flags(&a, Some(&other));
        assert_eq!(
            f,
            [
                Flag::NotTarget,
                Flag::NameDiffers,
                Flag::HasAccount,
                Flag::Duplicate,
                Flag::EmailDomainDiffers
            ]
        );
        assert!(f.iter().any(|f| f.blocks_approval()));
        assert!(approvable_in_bulk("さくら内科 クリニック", &a.email, &m));
        let no_master_email = MasterFacts {
            email: None,
            ..m.clone()
        };
        assert!(!approvable_in_bulk(&a.name, &a.email, &no_master_email));
        let other_pending = MasterFacts {
            pending_applications: 1,
            ..m.clone()
        };
        assert!(!approvable_in_bulk(&a.name, &a.email, &other_pending));
        assert!(!approvable_in_bulk(&a.name, "info@example.com", &m));
        assert_eq!(
            login_id("4610100044", &["4610100044-01".into()]),
            "4610100044-02"
        );
    }
}
