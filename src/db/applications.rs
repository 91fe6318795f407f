//! Applications for institution accounts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{account_applications, institutions, users};
use crate::domain::auth::Scope;

pub struct NewApplication<'a> {
    pub code_typed: &'a str,
    pub institution_id: Option<i32>,
    pub name_typed: &'a str,
    pub person: &'a str,
    pub email: &'a str,
    pub phone: &'a str,
    pub flags: &'a str,
    pub ip: Option<&'a str>,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, a: &NewApplication) -> QueryResult<i32> {
    diesel::insert_into(account_applications::table)
        .values((
            account_applications::code_typed.eq(a.code_typed),
            account_applications::institution_id.eq(a.institution_id),
            account_applications::name_typed.eq(a.name_typed),
            account_applications::person.eq(a.person),
            account_applications::email.eq(a.email),
            account_applications::phone.eq(a.phone),
            account_applications::state.eq("pending"),
            account_applications::flags.eq(a.flags),
            account_applications::ip.eq(a.ip),
            account_applications::created_at.eq(a.created_at),
        ))
        .execute(conn)?;
    // This application's own values (the time to the nanosecond), not the newest row,
    // which another transaction may have added meanwhile.
    account_applications::table
        .filter(account_applications::email.eq(a.email))
        .filter(account_applications::created_at.eq(a.created_at))
        .select(account_applications::id)
        .order(account_applications::id.desc())
        .first(conn)
}

/// Applications since `since` from this address or for this e-mail (the rate limit).
pub fn recent(
    conn: &mut DbConnection,
    ip: Option<&str>,
    email: &str,
    since: NaiveDateTime,
) -> QueryResult<(i64, i64)> {
    let from_ip = match ip {
        Some(ip) => account_applications::table
            .filter(account_applications::ip.eq(ip))
            .filter(account_applications::created_at.gt(since))
            .count()
            .get_result(conn)?,
        None => 0,
    };
    let for_email = account_applications::table
        .filter(account_applications::email.eq(email))
        .filter(account_applications::created_at.gt(since))
        .count()
        .get_result(conn)?;
    Ok((from_ip, for_email))
}

/// An institution a typed code names: id, name, e-mail, is a target, prefecture.
pub type Named = (i32, String, Option<String>, bool, i32);

/// The institutions a typed code names: the whole code, or the 7 printed digits.
pub fn institutions_with_code(
    conn: &mut DbConnection,
    full: Option<&str>,
    printed: Option<&str>,
) -> QueryResult<Vec<Named>> {
    let mut q = institutions::table.into_boxed();
    if let Some(code) = full {
        q = q.filter(institutions::code.eq(code.to_string()));
    }
    if let Some(short) = printed {
        q = q.filter(institutions::short_code.eq(short.to_string()));
    }
    q.select((
        institutions::id,
        institutions::name,
        institutions::email,
        institutions::is_target,
        institutions::prefecture_id,
    ))
    .order(institutions::id)
    .limit(10)
    .load(conn)
}

pub fn accounts_of(conn: &mut DbConnection, institution_id: i32) -> QueryResult<Vec<String>> {
    users::table
        .filter(users::institution_id.eq(institution_id))
        .select(users::login_id)
        .load(conn)
}

pub fn pending_for(conn: &mut DbConnection, institution_id: i32) -> QueryResult<i64> {
    account_applications::table
        .filter(account_applications::institution_id.eq(institution_id))
        .filter(account_applications::state.eq("pending"))
        .count()
        .get_result(conn)
}

#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct ApplicationRow {
    pub id: i32,
    pub code_typed: String,
    pub institution_id: Option<i32>,
    pub name_typed: String,
    pub person: String,
    pub email: String,
    pub phone: String,
    pub state: String,
    pub flags: String,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    pub user_id: Option<i32>,
}

type Columns = (
    account_applications::id,
    account_applications::code_typed,
    account_applications::institution_id,
    account_applications::name_typed,
    account_applications::person,
    account_applications::email,
    account_applications::phone,
    account_applications::state,
    account_applications::flags,
    account_applications::reason,
    account_applications::created_at,
    account_applications::decided_at,
    account_applications::user_id,
);

const COLUMNS: Columns = (
    account_applications::id,
    account_applications::code_typed,
    account_applications::institution_id,
    account_applications::name_typed,
    account_applications::person,
    account_applications::email,
    account_applications::phone,
    account_applications::state,
    account_applications::flags,
    account_applications::reason,
    account_applications::created_at,
    account_applications::decided_at,
    account_applications::user_id,
);

/// Applications an officer may see: those naming an institution within the scope;
/// those naming none only for the whole prefecture (or deployment).
pub fn within(
    conn: &mut DbConnection,
    scope: Scope,
    state: Option<&str>,
    id: Option<i32>,
    (offset, limit): (i64, i64),
) -> QueryResult<Vec<ApplicationRow>> {
    let mut q = account_applications::table
        .left_join(institutions::table)
        .select(COLUMNS)
        .into_boxed();
    q = match scope {
        Scope::All => q,
        Scope::Prefecture(p) => q.filter(
            institutions::prefecture_id
                .eq(p)
                .or(account_applications::institution_id.is_null()),
        ),
        Scope::Jurisdiction(j) => q.filter(institutions::jurisdiction_id.eq(j)),
        Scope::Municipality(m) => q.filter(institutions::municipality_id.eq(m)),
        Scope::Institution(_) => return Ok(Vec::new()),
    };
    if let Some(state) = state {
        q = q.filter(account_applications::state.eq(state.to_string()));
    }
    if let Some(id) = id {
        q = q.filter(account_applications::id.eq(id));
    }
    q.order(account_applications::id.desc())
        .offset(offset)
        .limit(limit)
        .load(conn)
}

/// Records the decision if the application still awaits one; false when it did not.
pub fn decide(
    conn: &mut DbConnection,
    id: i32,
    state: &str,
    reason: Option<&str>,
    by: i32,
    user_id: Option<i32>,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        account_applications::table
            .filter(account_applications::id.eq(id))
            .filter(account_applications::state.eq("pending")),
    )
    .set((
        account_applications::state.eq(state),
        account_applications::reason.eq(reason),
        account_applications::decided_by.eq(by),
        account_applications::decided_at.eq(at),
        account_applications::user_id.eq(user_id),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// What the master says beside a pending application: code, name, e-mail, is a target.
pub type MasterSide = (String, String, Option<String>, bool);

/// Every pending application within the scope that names an institution, beside the
/// master's record of it, oldest first (一括承認's candidates).
pub fn pending_beside_master(
    conn: &mut DbConnection,
    scope: Scope,
) -> QueryResult<Vec<(ApplicationRow, MasterSide)>> {
    let mut q = account_applications::table
        .inner_join(institutions::table)
        .filter(account_applications::state.eq("pending"))
        .select((
            COLUMNS,
            (
                institutions::code,
                institutions::name,
                institutions::email,
                institutions::is_target,
            ),
        ))
        .into_boxed();
    q = match scope {
        Scope::All => q,
        Scope::Prefecture(p) => q.filter(institutions::prefecture_id.eq(p)),
        Scope::Jurisdiction(j) => q.filter(institutions::jurisdiction_id.eq(j)),
        Scope::Municipality(m) => q.filter(institutions::municipality_id.eq(m)),
        Scope::Institution(_) => return Ok(Vec::new()),
    };
    q.order(account_applications::id).load(conn)
}

/// Which of these institutions have an account of their own (active or not).
pub fn with_accounts(
    conn: &mut DbConnection,
    institution_ids: &[i32],
) -> QueryResult<std::collections::HashSet<i32>> {
    let mut out = std::collections::HashSet::new();
    for chunk in institution_ids.chunks(900) {
        let found: Vec<Option<i32>> = users::table
            .filter(users::institution_id.eq_any(chunk))
            .select(users::institution_id)
            .load(conn)?;
        out.extend(found.into_iter().flatten());
    }
    Ok(out)
}

/// A reporting target with no account: id, code, name, e-mail, whether mail to it
/// bounced, prefecture.
pub type WithoutAccount = (i32, String, String, Option<String>, bool, i32);

/// Reporting targets within the scope that have no account at all, in code order
/// (アカウントの一括発行's candidates). The institutions with an account are read apart
/// and left out here: as a correlated NOT EXISTS, SQLite planned a scan of users per
/// institution once users had grown past its statistics (30 s for 110,000).
pub fn targets_without_account(
    conn: &mut DbConnection,
    scope: Scope,
) -> QueryResult<Vec<WithoutAccount>> {
    let targets: Vec<WithoutAccount> = super::institutions::within(scope)
        .filter(institutions::is_target.eq(true))
        .select((
            institutions::id,
            institutions::code,
            institutions::name,
            institutions::email,
            institutions::email_bounced_at.is_not_null(),
            institutions::prefecture_id,
        ))
        .order(institutions::code)
        .load(conn)?;
    let with_account: std::collections::HashSet<i32> = users::table
        .filter(users::institution_id.is_not_null())
        .select(users::institution_id)
        .load::<Option<i32>>(conn)?
        .into_iter()
        .flatten()
        .collect();
    Ok(targets
        .into_iter()
        .filter(|t| !with_account.contains(&t.0))
        .collect())
}
