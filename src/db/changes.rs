//! Change counters: every committed change that alters figures kept in memory advances
//! one, and every process compares the counters with those its figures were computed
//! at. SQLite keeps them in a table, bumped inside the writer's transaction (writers are
//! serialized there anyway, and a separate bump would cost a second commit). PostgreSQL
//! keeps them in sequences advanced after the commit: `nextval` takes no row lock, so no
//! writer queues behind another's transaction (a bulk confirmation), and a reader that
//! sees the new value also sees the change.

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::DbConnection;
use super::schema::change_counters;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Reports: created, saved, submitted, confirmed, sent back, pulled back.
    Reports,
    /// Institutions: edited, imported, retired (also moves past submissions between
    /// areas' figures).
    Master,
}

impl Counter {
    fn name(self) -> &'static str {
        match self {
            Counter::Reports => "reports",
            Counter::Master => "master",
        }
    }
}

/// The counters as read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub reports: i64,
    pub master: i64,
}

#[derive(QueryableByName)]
struct Values {
    #[diesel(sql_type = BigInt)]
    reports: i64,
    #[diesel(sql_type = BigInt)]
    master: i64,
}

/// One cheap read.
pub fn stamp(conn: &mut DbConnection) -> QueryResult<Stamp> {
    match conn {
        DbConnection::Pg(c) => {
            let v: Values = diesel::sql_query(
                "SELECT (SELECT last_value FROM change_counter_reports) AS reports, \
                 (SELECT last_value FROM change_counter_master) AS master",
            )
            .get_result(c)?;
            Ok(Stamp {
                reports: v.reports,
                master: v.master,
            })
        }
        DbConnection::Sqlite(_) => {
            let rows: Vec<(String, i64)> = change_counters::table
                .select((change_counters::name, change_counters::value))
                .load(conn)?;
            let value = |c: Counter| {
                rows.iter()
                    .find(|(name, _)| name == c.name())
                    .map_or(0, |(_, v)| *v)
            };
            Ok(Stamp {
                reports: value(Counter::Reports),
                master: value(Counter::Master),
            })
        }
    }
}

/// Inside the writer's transaction: bumps the counters on SQLite (nothing on
/// PostgreSQL, see [`after_commit`]).
pub fn within_transaction(conn: &mut DbConnection, counters: &[Counter]) -> QueryResult<()> {
    if let DbConnection::Sqlite(_) = conn {
        for counter in counters {
            diesel::update(change_counters::table.find(counter.name()))
                .set(change_counters::value.eq(change_counters::value + 1))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// After the writer's commit: advances the sequences on PostgreSQL (nothing on
/// SQLite, see [`within_transaction`]).
pub fn after_commit(conn: &mut DbConnection, counters: &[Counter]) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        for counter in counters {
            diesel::sql_query(format!(
                "SELECT nextval('change_counter_{}')",
                counter.name()
            ))
            .execute(c)?;
        }
    }
    Ok(())
}
