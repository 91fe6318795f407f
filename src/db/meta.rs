//! Deployment facts stored as key/value pairs (`demo`, `demo_seed`, …).

use diesel::prelude::*;

use super::DbConnection;
use super::schema::meta;

pub const DEMO: &str = "demo";
pub const DEMO_SEED: &str = "demo_seed";
/// The random key for session cookies when none is configured (hex, 64 bytes).
pub const SESSION_KEY: &str = "session_key";

/// The key one-time links are derived with (hex, 32 bytes), made on first use.
pub const LINK_KEY: &str = "link_key";

/// The value of `key`, set to `make()` first if there is none. When two processes
/// race, the first value written wins and both read it.
pub fn get_or_insert(
    conn: &mut DbConnection,
    key: &str,
    make: impl FnOnce() -> String,
) -> QueryResult<String> {
    if let Some(v) = get(conn, key)? {
        return Ok(v);
    }
    let value = make();
    crate::per_backend!(&mut *conn, |c| {
        diesel::insert_into(meta::table)
            .values((meta::key.eq(key), meta::value.eq(&value)))
            .on_conflict(meta::key)
            .do_nothing()
            .execute(c)
    })?;
    get(conn, key)?.ok_or(diesel::result::Error::NotFound)
}

pub fn get(conn: &mut DbConnection, key: &str) -> QueryResult<Option<String>> {
    meta::table
        .find(key)
        .select(meta::value)
        .first(conn)
        .optional()
}

pub fn set(conn: &mut DbConnection, key: &str, value: &str) -> QueryResult<()> {
    crate::per_backend!(conn, |c| {
        diesel::insert_into(meta::table)
            .values((meta::key.eq(key), meta::value.eq(value)))
            .on_conflict(meta::key)
            .do_update()
            .set(meta::value.eq(value))
            .execute(c)
    })?;
    Ok(())
}

pub fn is_demo(conn: &mut DbConnection) -> QueryResult<bool> {
    Ok(get(conn, DEMO)?.as_deref() == Some("true"))
}
