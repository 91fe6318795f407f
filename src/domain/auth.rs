//! Who may do what: roles, scopes, password policy and lockout (domain.md §2).

use chrono::{Duration, NaiveDateTime};
use serde::Serialize;

/// The five roles, from the widest to the narrowest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub enum Role {
    /// 医療機関ユーザ: its own institution only.
    Institution,
    /// 保健所・委託先担当者: institutions of its assigned area.
    AreaOfficer,
    /// 都道府県担当者
    PrefectureOfficer,
    /// 都道府県管理者
    PrefectureAdmin,
    /// システム管理者: everything, all prefectures.
    SystemAdmin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::SystemAdmin,
        Role::PrefectureAdmin,
        Role::PrefectureOfficer,
        Role::AreaOfficer,
        Role::Institution,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::SystemAdmin => "sysadmin",
            Role::PrefectureAdmin => "admin",
            Role::PrefectureOfficer => "officer",
            Role::AreaOfficer => "area",
            Role::Institution => "institution",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::SystemAdmin => "システム管理者",
            Role::PrefectureAdmin => "都道府県管理者",
            Role::PrefectureOfficer => "都道府県担当者",
            Role::AreaOfficer => "保健所・委託先担当者",
            Role::Institution => "医療機関ユーザ",
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Role::SystemAdmin | Role::PrefectureAdmin)
    }

    /// Officers of any level: they review, confirm and enter by proxy.
    pub fn is_officer(self) -> bool {
        self != Role::Institution
    }

    /// An administrator may grant only roles up to its own.
    pub fn may_grant(self, other: Role) -> bool {
        self.is_admin() && other <= self
    }
}

/// The part of the area tree (or the one institution) a user may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Scope {
    /// システム管理者: every prefecture.
    All,
    Prefecture(i32),
    Jurisdiction(i32),
    Municipality(i32),
    Institution(i32),
}

/// Where an institution sits, for scope checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub institution_id: i32,
    pub prefecture_id: i32,
    pub jurisdiction_id: Option<i32>,
    pub municipality_id: Option<i32>,
}

impl Scope {
    pub fn covers(self, place: Placement) -> bool {
        match self {
            Scope::All => true,
            Scope::Prefecture(id) => place.prefecture_id == id,
            Scope::Jurisdiction(id) => place.jurisdiction_id == Some(id),
            Scope::Municipality(id) => place.municipality_id == Some(id),
            Scope::Institution(id) => place.institution_id == id,
        }
    }

    /// Whether this scope contains the whole of `inner` (for granting scopes): the area
    /// chain of `inner` is (prefecture, jurisdiction, municipality) as known to the caller.
    pub fn contains_area(self, chain: AreaChain) -> bool {
        match self {
            Scope::All => true,
            Scope::Prefecture(id) => chain.prefecture == id,
            Scope::Jurisdiction(id) => chain.jurisdiction == Some(id),
            Scope::Municipality(id) => chain.municipality == Some(id),
            Scope::Institution(_) => false,
        }
    }
}

/// A node's ancestry: the prefecture always, and deeper levels when the node is that deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AreaChain {
    pub prefecture: i32,
    pub jurisdiction: Option<i32>,
    pub municipality: Option<i32>,
}

/// Which scopes fit which role: a clinic user needs one institution; officers an area;
/// a prefecture-wide role the whole prefecture; the system administrator none.
pub fn scope_fits_role(role: Role, scope: Scope) -> bool {
    match role {
        Role::SystemAdmin => scope == Scope::All,
        Role::PrefectureAdmin | Role::PrefectureOfficer => {
            matches!(scope, Scope::Prefecture(_) | Scope::Jurisdiction(_))
        }
        Role::AreaOfficer => matches!(
            scope,
            Scope::Jurisdiction(_) | Scope::Municipality(_) | Scope::Prefecture(_)
        ),
        Role::Institution => matches!(scope, Scope::Institution(_)),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginIdError {
    #[error("ログインIDは3〜64文字の半角英数字と . _ - @ で入力してください")]
    Invalid,
}

/// Login IDs are compared case-insensitively and typed any width: `Ｄｅｍｏ` = `demo`.
pub fn normalize_login_id(input: &str) -> Result<String, LoginIdError> {
    let folded: String = input
        .trim()
        .chars()
        .map(|c| match c {
            // Full-width ASCII block → ASCII.
            '！'..='～' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect::<String>()
        .to_ascii_lowercase();
    let ok_len = (3..=64).contains(&folded.chars().count());
    let ok_chars = folded
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok_len && ok_chars {
        Ok(folded)
    } else {
        Err(LoginIdError::Invalid)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("パスワードは{min}文字以上にしてください")]
    TooShort { min: usize },
    #[error("パスワードにログインIDや医療機関コードを含めないでください")]
    ContainsPersonal,
    #[error("パスワードは256文字以内にしてください")]
    TooLong,
    #[error("確認用のパスワードが一致しません")]
    Mismatch,
    #[error(
        "よく使われるパスワード（password1234 のように、よく使われる語に数字や記号を足しただけのものも）は使えません"
    )]
    Common,
    #[error("同じ文字や短い並びを繰り返しただけのパスワードは使えません")]
    Repeated,
    #[error("「123456789012」「abcdefghijkl」のような続き文字だけのパスワードは使えません")]
    Sequence,
}

/// The most common passwords (zxcvbn's list), lowercased.
fn common_passwords() -> &'static std::collections::HashSet<&'static str> {
    static LIST: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("data/common_passwords.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    })
}

/// True when the password is a common one, or one with only digits or symbols put
/// before or after it (`password1234`, `2024sakura!`).
fn is_common(folded: &str) -> bool {
    let list = common_passwords();
    if list.contains(folded) {
        return true;
    }
    let filler = |c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ';
    let core = folded.trim_matches(filler);
    core.chars().count() >= 4 && core.len() < folded.len() && list.contains(core)
}

/// True when the password is one character, or a unit of up to 3, repeated.
fn is_repetition(chars: &[char]) -> bool {
    (1..=3).any(|unit| {
        chars.len() >= unit * 2
            && chars.len() % unit == 0
            && chars.chunks(unit).all(|c| c == &chars[..unit])
    })
}

/// True when every character follows the one before, up or down (`0123456789012`,
/// `abcdef…`, `987654…`); digits wrap from 9 to 0.
fn is_sequence(chars: &[char]) -> bool {
    let step = |a: char, b: char| -> Option<i32> {
        if a.is_ascii_digit() && b.is_ascii_digit() {
            let d = (b as i32 - a as i32).rem_euclid(10);
            return match d {
                1 => Some(1),
                9 => Some(-1),
                _ => None,
            };
        }
        match b as i32 - a as i32 {
            1 => Some(1),
            -1 => Some(-1),
            _ => None,
        }
    };
    let steps: Vec<Option<i32>> = chars.windows(2).map(|w| step(w[0], w[1])).collect();
    !steps.is_empty() && steps.iter().all(|s| s.is_some() && *s == steps[0])
}

/// The password policy: long enough, not absurdly long, not a common password, not one
/// character or a short unit repeated, not a run of consecutive characters, and not
/// containing the login ID or the institution code (`personal`, 3 characters or more
/// count). Compared after NFKC and lowercasing, so full-width letters change nothing.
pub fn check_password(
    password: &str,
    min_len: usize,
    personal: &[&str],
) -> Result<(), PasswordError> {
    let len = password.chars().count();
    if len < min_len {
        return Err(PasswordError::TooShort { min: min_len });
    }
    if len > 256 {
        return Err(PasswordError::TooLong);
    }
    let folded = crate::domain::normalize::nfkc(password).to_lowercase();
    let chars: Vec<char> = folded.chars().collect();
    if is_repetition(&chars) {
        return Err(PasswordError::Repeated);
    }
    if is_sequence(&chars) {
        return Err(PasswordError::Sequence);
    }
    if is_common(&folded) {
        return Err(PasswordError::Common);
    }
    for word in personal {
        let word = crate::domain::normalize::nfkc(word.trim()).to_lowercase();
        if word.chars().count() >= 3 && folded.contains(&word) {
            return Err(PasswordError::ContainsPersonal);
        }
    }
    Ok(())
}

/// Lockout settings.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: i32,
    pub lock_for: Duration,
}

impl LockoutPolicy {
    pub fn is_locked(&self, locked_until: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
        locked_until.is_some_and(|until| now < until)
    }

    /// The counter and lock after one more wrong password.
    pub fn after_failure(
        &self,
        failed_attempts: i32,
        now: NaiveDateTime,
    ) -> (i32, Option<NaiveDateTime>) {
        let failed = failed_attempts + 1;
        if failed >= self.max_failures {
            (0, Some(now + self.lock_for))
        } else {
            (failed, None)
        }
    }
}

/// Where an institution's login stands, as the target list shows it. (Accounts by
/// e-mail add 申請中 and 案内送付済 when they land.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    NoAccount,
    /// Issued, never signed in with.
    NotYetUsed,
    Active,
    Locked,
    Disabled,
}

impl AccountState {
    pub fn of(
        active: bool,
        locked_until: Option<NaiveDateTime>,
        last_login_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> AccountState {
        if !active {
            AccountState::Disabled
        } else if locked_until.is_some_and(|until| now < until) {
            AccountState::Locked
        } else if last_login_at.is_none() {
            AccountState::NotYetUsed
        } else {
            AccountState::Active
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AccountState::NoAccount => "アカウントなし",
            AccountState::NotYetUsed => "発行済（未ログイン）",
            AccountState::Active => "利用中",
            AccountState::Locked => "ロック中",
            AccountState::Disabled => "停止",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_states_in_order_of_what_matters_most() {
        let now = chrono::NaiveDate::from_ymd_opt(2027, 1, 10)
            .unwrap()
            .and_hms_opt(1, 0, 0)
            .unwrap();
        let later = Some(now + Duration::minutes(5));
        let earlier = Some(now - Duration::days(3));
        assert_eq!(
            AccountState::of(false, later, earlier, now),
            AccountState::Disabled
        );
        assert_eq!(
            AccountState::of(true, later, earlier, now),
            AccountState::Locked
        );
        assert_eq!(
            AccountState::of(true, earlier, None, now),
            AccountState::NotYetUsed
        );
        assert_eq!(
            AccountState::of(true, None, earlier, now),
            AccountState::Active
        );
    }
    use chrono::NaiveDate;

    fn t(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, 5)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn five_failures_lock_for_fifteen_minutes() {
        let policy = LockoutPolicy {
            max_failures: 5,
            lock_for: Duration::minutes(15),
        };
        let mut failed = 0;
        let mut lock = None;
        for attempt in 1..=5 {
            assert!(!policy.is_locked(lock, t(9, 0)), "attempt {attempt}");
            (failed, lock) = policy.after_failure(failed, t(9, 0));
        }
        assert_eq!(failed, 0);
        assert!(policy.is_locked(lock, t(9, 0)));
        assert!(policy.is_locked(lock, t(9, 14)));
        assert!(!policy.is_locked(lock, t(9, 15)));
    }

    #[test]
    fn password_policy() {
        assert_eq!(
            check_password("short", 12, &["demo"]),
            Err(PasswordError::TooShort { min: 12 })
        );
        assert_eq!(
            check_password("LongLoginId12", 12, &["longloginid12"]),
            Err(PasswordError::ContainsPersonal)
        );
        assert_eq!(
            check_password("my-kagoshima-admin-pass", 12, &["kagoshima-admin"]),
            Err(PasswordError::ContainsPersonal)
        );
        // An institution code inside, in full-width digits too.
        assert_eq!(
            check_password(
                "ｃｌｉｎｉｃ４６１０１０００４４ok",
                12,
                &["x-01", "4610100044"]
            ),
            Err(PasswordError::ContainsPersonal)
        );
        assert!(check_password("correct horse battery", 12, &["demo"]).is_ok());
        assert_eq!(
            check_password(&"x".repeat(300), 12, &["d"]),
            Err(PasswordError::TooLong)
        );
        // Length counts characters, not bytes: 12 Japanese characters pass.
        assert!(check_password("かかりつけ医機能報告パス", 12, &["demo"]).is_ok());
    }

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        for (password, why) in [
            ("aaaaaaaaaaaa", PasswordError::Repeated),
            ("ＡＡＡＡＡＡＡＡＡＡＡＡ", PasswordError::Repeated),
            ("abcabcabcabc", PasswordError::Repeated),
            ("123456789012", PasswordError::Sequence),
            ("abcdefghijkl", PasswordError::Sequence),
            ("987654321098", PasswordError::Sequence),
            ("password1234", PasswordError::Common),
            ("PASSWORD1234", PasswordError::Common),
            ("1234password", PasswordError::Common),
            ("qwertyuiop12", PasswordError::Common),
            ("iloveyou2024!", PasswordError::Common),
            ("sunshine1234", PasswordError::Common),
        ] {
            assert_eq!(
                check_password(password, 12, &["someone"]),
                Err(why),
                "{password}"
            );
        }
        // Strong ones built from the same pieces pass.
        for password in [
            "password-tea-kettle",
            "abc123xyz987q",
            "さくら咲く鹿児島2027",
            "aaab-bbcc-cdde",
        ] {
            assert!(
                check_password(password, 12, &["someone"]).is_ok(),
                "{password}"
            );
        }
    }

    #[test]
    fn login_ids_fold_width_and_case() {
        assert_eq!(
            normalize_login_id(" Ｄｅｍｏ-Admin ").unwrap(),
            "demo-admin"
        );
        assert!(normalize_login_id("a").is_err());
        assert!(normalize_login_id("x' OR 1=1 --").is_err());
        assert!(normalize_login_id("<script>").is_err());
    }

    #[test]
    fn granting_never_exceeds_own_role() {
        assert!(Role::PrefectureAdmin.may_grant(Role::PrefectureAdmin));
        assert!(Role::PrefectureAdmin.may_grant(Role::Institution));
        assert!(!Role::PrefectureAdmin.may_grant(Role::SystemAdmin));
        assert!(!Role::PrefectureOfficer.may_grant(Role::Institution));
        assert!(Role::SystemAdmin.may_grant(Role::SystemAdmin));
    }

    #[test]
    fn scopes_cover_their_subtree_only() {
        let place = Placement {
            institution_id: 7,
            prefecture_id: 1,
            jurisdiction_id: Some(2),
            municipality_id: Some(3),
        };
        assert!(Scope::All.covers(place));
        assert!(Scope::Prefecture(1).covers(place));
        assert!(Scope::Jurisdiction(2).covers(place));
        assert!(Scope::Municipality(3).covers(place));
        assert!(Scope::Institution(7).covers(place));
        assert!(!Scope::Prefecture(9).covers(place));
        assert!(!Scope::Jurisdiction(4).covers(place));
        assert!(!Scope::Institution(8).covers(place));
    }

    #[test]
    fn roles_need_fitting_scopes() {
        assert!(scope_fits_role(Role::SystemAdmin, Scope::All));
        assert!(!scope_fits_role(Role::SystemAdmin, Scope::Prefecture(1)));
        assert!(scope_fits_role(Role::Institution, Scope::Institution(1)));
        assert!(!scope_fits_role(Role::Institution, Scope::Prefecture(1)));
        assert!(scope_fits_role(Role::AreaOfficer, Scope::Jurisdiction(1)));
        assert!(!scope_fits_role(Role::PrefectureOfficer, Scope::All));
    }
}
