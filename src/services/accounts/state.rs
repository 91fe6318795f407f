//! Where each institution stands with its account, for the institution search and
//! detail: no account, application pending, link sent, in use, locked, stopped.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::db::{DbConnection, DbError};
use crate::domain::auth::AccountState;

/// An institution's account state in words, and its login IDs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstitutionAccount {
    pub state: &'static str,
    pub logins: Vec<String>,
}

/// The one word for an institution's accounts: the most useful of them wins.
fn summary(states: &[(AccountState, bool)], pending: bool) -> &'static str {
    let has = |s: AccountState| states.iter().any(|(state, _)| *state == s);
    if states.is_empty() {
        return if pending {
            "申請中"
        } else {
            "アカウントなし"
        };
    }
    if has(AccountState::Active) {
        "利用中"
    } else if has(AccountState::Locked) {
        "ロック中"
    } else if states
        .iter()
        .any(|(s, link)| *s == AccountState::NotYetUsed && *link)
    {
        "案内送付済（URL未使用）"
    } else if has(AccountState::NotYetUsed) {
        "発行済（未ログイン）"
    } else {
        "停止"
    }
}

/// The account state of these institutions (a page of a search, or one).
pub fn of_institutions(
    conn: &mut DbConnection,
    ids: &[i32],
    now: NaiveDateTime,
) -> Result<HashMap<i32, InstitutionAccount>, DbError> {
    let found = crate::db::links::institution_accounts(conn, ids, now)?;
    let (lines, open_links, pending) = (found.users, found.open_links, found.pending);
    // Per institution: each account's state and whether it has a link open; its logins.
    type Accounts = (Vec<(AccountState, bool)>, Vec<String>);
    let mut per: HashMap<i32, Accounts> = HashMap::new();
    for (institution, user, login, active, locked, last) in lines {
        let entry = per.entry(institution).or_default();
        let state = AccountState::of(active, locked, last, now);
        entry.0.push((state, open_links.contains(&user)));
        entry.1.push(login);
    }
    Ok(ids
        .iter()
        .map(|id| {
            let (states, logins) = per.remove(id).unwrap_or_default();
            let state = summary(&states, pending.contains(id));
            (*id, InstitutionAccount { state, logins })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_useful_state_names_the_institution() {
        use AccountState::*;
        assert_eq!(summary(&[], false), "アカウントなし");
        assert_eq!(summary(&[], true), "申請中");
        assert_eq!(
            summary(&[(NotYetUsed, true)], false),
            "案内送付済（URL未使用）"
        );
        assert_eq!(
            summary(&[(NotYetUsed, false)], false),
            "発行済（未ログイン）"
        );
        assert_eq!(
            summary(&[(Disabled, false), (Active, false)], false),
            "利用中"
        );
        assert_eq!(
            summary(&[(Locked, false), (NotYetUsed, true)], false),
            "ロック中"
        );
        assert_eq!(summary(&[(Disabled, false)], true), "停止");
    }
}
