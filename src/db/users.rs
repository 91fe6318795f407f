//! User accounts.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{areas, institutions, users};
use super::sessions::{self, EndReason};
use crate::domain::area::AreaKind;
use crate::domain::auth::{AreaChain, Role, Scope};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i32,
    pub login_id: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: String,
    pub area_id: Option<i32>,
    pub institution_id: Option<i32>,
    pub active: bool,
    pub password_hash: String,
    pub must_change_password: bool,
    pub failed_attempts: i32,
    pub locked_until: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl User {
    pub fn role(&self) -> Role {
        // The CHECK constraint admits only known codes; the narrowest role is the safe
        // reading of anything else.
        Role::from_code(&self.role).unwrap_or(Role::Institution)
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewUser {
    pub login_id: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: String,
    pub area_id: Option<i32>,
    pub institution_id: Option<i32>,
    pub active: bool,
    pub password_hash: String,
    pub must_change_password: bool,
    pub failed_attempts: i32,
    pub locked_until: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// How a scope is stored on the user row.
pub fn scope_columns(scope: Scope) -> (Option<i32>, Option<i32>) {
    match scope {
        Scope::All => (None, None),
        Scope::Prefecture(id) | Scope::Jurisdiction(id) | Scope::Municipality(id) => {
            (Some(id), None)
        }
        Scope::Institution(id) => (None, Some(id)),
    }
}

pub fn insert(conn: &mut DbConnection, user: &NewUser) -> QueryResult<i32> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)?;
    users::table
        .filter(users::login_id.eq(&user.login_id))
        .select(users::id)
        .first(conn)
}

/// Many users with multi-row INSERTs (アカウントの一括発行), inside the caller's
/// transaction; their ids by login ID.
pub fn insert_many(
    conn: &mut DbConnection,
    new: &[NewUser],
) -> QueryResult<std::collections::HashMap<String, i32>> {
    // 14 columns × 2,000 rows stays under both backends' parameter limits.
    for chunk in new.chunks(2_000) {
        crate::per_backend!(&mut *conn, |c| diesel::insert_into(users::table)
            .values(chunk)
            .execute(c))?;
    }
    let logins: Vec<&str> = new.iter().map(|u| u.login_id.as_str()).collect();
    ids_by_login(conn, &logins)
}

/// The ids of the users with these login IDs (those that exist).
pub fn ids_by_login(
    conn: &mut DbConnection,
    logins: &[&str],
) -> QueryResult<std::collections::HashMap<String, i32>> {
    let mut out = std::collections::HashMap::new();
    for chunk in logins.chunks(900) {
        let found: Vec<(String, i32)> = users::table
            .filter(users::login_id.eq_any(chunk))
            .select((users::login_id, users::id))
            .load(conn)?;
        out.extend(found);
    }
    Ok(out)
}

pub fn by_login(conn: &mut DbConnection, login_id: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::login_id.eq(login_id))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn by_id(conn: &mut DbConnection, id: i32) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// A user with the kind of its area node, in one query (the per-request load).
pub fn with_scope(conn: &mut DbConnection, id: i32) -> QueryResult<Option<(User, Scope)>> {
    let row: Option<(User, Option<String>)> = users::table
        .left_join(areas::table)
        .filter(users::id.eq(id))
        .select((User::as_select(), areas::kind.nullable()))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(user, kind)| {
        let scope = scope_of(&user, kind.as_deref())?;
        Some((user, scope))
    }))
}

/// The scope a user row gives, with the kind of its area node.
pub fn scope_of(user: &User, area_kind: Option<&str>) -> Option<Scope> {
    match (user.role(), user.institution_id, user.area_id) {
        (Role::SystemAdmin, _, _) => Some(Scope::All),
        (Role::Institution, Some(inst), _) => Some(Scope::Institution(inst)),
        (Role::Institution, None, _) => None,
        (_, _, Some(area)) => match area_kind.and_then(AreaKind::from_code)? {
            AreaKind::Prefecture => Some(Scope::Prefecture(area)),
            AreaKind::Jurisdiction => Some(Scope::Jurisdiction(area)),
            AreaKind::Municipality => Some(Scope::Municipality(area)),
        },
        _ => None,
    }
}

/// The scope an area node gives, with its ancestry.
pub fn area_scope(
    conn: &mut DbConnection,
    area_id: i32,
) -> QueryResult<Option<(Scope, AreaChain)>> {
    let node: Option<(String, Option<i32>)> = areas::table
        .find(area_id)
        .select((areas::kind, areas::parent_id))
        .first(conn)
        .optional()?;
    let Some((kind, parent)) = node else {
        return Ok(None);
    };
    let parent_of = |conn: &mut DbConnection, id: Option<i32>| -> QueryResult<Option<i32>> {
        match id {
            None => Ok(None),
            Some(id) => areas::table
                .find(id)
                .select(areas::parent_id)
                .first::<Option<i32>>(conn)
                .optional()
                .map(Option::flatten),
        }
    };
    Ok(match AreaKind::from_code(&kind) {
        Some(AreaKind::Prefecture) => Some((
            Scope::Prefecture(area_id),
            AreaChain {
                prefecture: area_id,
                jurisdiction: None,
                municipality: None,
            },
        )),
        Some(AreaKind::Jurisdiction) => parent.map(|p| {
            (
                Scope::Jurisdiction(area_id),
                AreaChain {
                    prefecture: p,
                    jurisdiction: Some(area_id),
                    municipality: None,
                },
            )
        }),
        Some(AreaKind::Municipality) => parent_of(conn, parent)?.map(|p| {
            (
                Scope::Municipality(area_id),
                AreaChain {
                    prefecture: p,
                    jurisdiction: parent,
                    municipality: Some(area_id),
                },
            )
        }),
        None => None,
    })
}

/// The prefecture a scope belongs to (`None` for the whole deployment).
pub fn prefecture_of(conn: &mut DbConnection, scope: Scope) -> QueryResult<Option<i32>> {
    match scope {
        Scope::All => Ok(None),
        Scope::Institution(id) => institutions::table
            .find(id)
            .select(institutions::prefecture_id)
            .first(conn)
            .optional(),
        Scope::Prefecture(id) | Scope::Jurisdiction(id) | Scope::Municipality(id) => {
            Ok(area_scope(conn, id)?.map(|(_, chain)| chain.prefecture))
        }
    }
}

/// Area ids inside a scope (the node and its descendants).
fn areas_within(conn: &mut DbConnection, scope: Scope) -> QueryResult<Vec<i32>> {
    let root = match scope {
        Scope::All => return areas::table.select(areas::id).load(conn),
        Scope::Institution(_) => return Ok(Vec::new()),
        Scope::Prefecture(id) | Scope::Jurisdiction(id) | Scope::Municipality(id) => id,
    };
    let mut found = vec![root];
    let mut frontier = vec![root];
    while !frontier.is_empty() {
        let next: Vec<i32> = areas::table
            .filter(areas::parent_id.eq_any(&frontier))
            .select(areas::id)
            .load(conn)?;
        found.extend(&next);
        frontier = next;
    }
    Ok(found)
}

#[derive(Debug, Clone)]
pub struct ListedUser {
    pub user: User,
    pub area_name: Option<String>,
    pub institution_name: Option<String>,
    pub institution_code: Option<String>,
}

/// Users whose scope lies inside `scope`: the area users of its subtree and the
/// institution users of its institutions.
pub fn list_within(conn: &mut DbConnection, scope: Scope) -> QueryResult<Vec<ListedUser>> {
    let area_ids = areas_within(conn, scope)?;
    let mut query = users::table
        .left_join(areas::table)
        .left_join(institutions::table)
        .select((
            User::as_select(),
            areas::name.nullable(),
            institutions::name.nullable(),
            institutions::code.nullable(),
        ))
        .order(users::login_id)
        .into_boxed();
    query = match scope {
        Scope::All => query,
        Scope::Institution(id) => query.filter(users::institution_id.eq(id)),
        Scope::Prefecture(id) => query.filter(
            users::area_id
                .eq_any(area_ids)
                .or(institutions::prefecture_id.eq(id)),
        ),
        Scope::Jurisdiction(id) => query.filter(
            users::area_id
                .eq_any(area_ids)
                .or(institutions::jurisdiction_id.eq(id)),
        ),
        Scope::Municipality(id) => query.filter(
            users::area_id
                .eq_any(area_ids)
                .or(institutions::municipality_id.eq(id)),
        ),
    };
    type Row = (User, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(user, area_name, institution_name, institution_code)| ListedUser {
                user,
                area_name,
                institution_name,
                institution_code,
            },
        )
        .collect())
}

pub fn record_success(conn: &mut DbConnection, id: i32) -> QueryResult<()> {
    let now = Utc::now().naive_utc();
    diesel::update(users::table.find(id))
        .set((
            users::failed_attempts.eq(0),
            users::locked_until.eq(None::<NaiveDateTime>),
            users::last_login_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn record_failure(
    conn: &mut DbConnection,
    id: i32,
    failed_attempts: i32,
    locked_until: Option<NaiveDateTime>,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::failed_attempts.eq(failed_attempts),
            users::locked_until.eq(locked_until),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sets a new password hash and ends every session of the user (the caller starts a new
/// one when the user changed their own password).
pub fn set_password(
    conn: &mut DbConnection,
    id: i32,
    hash: &str,
    must_change: bool,
) -> QueryResult<()> {
    let now = Utc::now().naive_utc();
    sessions::end_all(conn, id, None, EndReason::PasswordChanged, now)?;
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(hash),
            users::must_change_password.eq(must_change),
            users::failed_attempts.eq(0),
            users::locked_until.eq(None::<NaiveDateTime>),
            users::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Activates or deactivates a user; a deactivation ends every session of the user.
pub fn set_active(conn: &mut DbConnection, id: i32, active: bool) -> QueryResult<()> {
    if !active {
        sessions::end_all(
            conn,
            id,
            None,
            EndReason::Deactivated,
            Utc::now().naive_utc(),
        )?;
    }
    diesel::update(users::table.find(id))
        .set((
            users::active.eq(active),
            users::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

pub struct Changes {
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub scope: Scope,
}

/// Changes name, e-mail, role and scope. A change of role or scope ends the user's
/// sessions, so that no open session keeps rights it no longer has; a change of name or
/// e-mail alone signs nobody out.
pub fn update(conn: &mut DbConnection, id: i32, changes: &Changes) -> QueryResult<()> {
    let (area_id, institution_id) = scope_columns(changes.scope);
    let before: Option<(String, Option<i32>, Option<i32>)> = users::table
        .find(id)
        .select((users::role, users::area_id, users::institution_id))
        .first(conn)
        .optional()?;
    let rights_changed = before.is_none_or(|(role, area, institution)| {
        (role.as_str(), area, institution) != (changes.role.code(), area_id, institution_id)
    });
    if rights_changed {
        sessions::end_all(
            conn,
            id,
            None,
            EndReason::RoleChanged,
            Utc::now().naive_utc(),
        )?;
    }
    diesel::update(users::table.find(id))
        .set((
            users::display_name.eq(&changes.display_name),
            users::email.eq(&changes.email),
            users::role.eq(changes.role.code()),
            users::area_id.eq(area_id),
            users::institution_id.eq(institution_id),
            users::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// What a user's password must not contain: the login ID, and for a clinic's user the
/// institution code (10 digits and the 7-digit code the bureau prints).
pub fn personal_words(conn: &mut DbConnection, user: &User) -> QueryResult<Vec<String>> {
    let mut words = vec![user.login_id.clone()];
    if let Some(id) = user.institution_id {
        let found: Option<(String, String)> = institutions::table
            .find(id)
            .select((institutions::code, institutions::short_code))
            .first(conn)
            .optional()?;
        if let Some((code, short)) = found {
            words.push(code);
            words.push(short);
        }
    }
    Ok(words)
}

/// When the officer last opened 新着 (`None`: never).
pub fn news_seen_at(conn: &mut DbConnection, id: i32) -> QueryResult<Option<NaiveDateTime>> {
    users::table
        .find(id)
        .select(users::news_seen_at)
        .first(conn)
}

pub fn set_news_seen(conn: &mut DbConnection, id: i32, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::news_seen_at.eq(at))
        .execute(conn)?;
    Ok(())
}

/// The one user with this e-mail address; none when several share it.
pub fn only_one_with_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<User>> {
    let found: Vec<User> = users::table
        .filter(users::email.eq(email.trim()))
        .select(User::as_select())
        .limit(2)
        .load(conn)?;
    Ok(match found.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    })
}
