//! Change counters: every committed change that alters figures kept in memory bumps
//! one, after its transaction (so writers never queue behind a long transaction for
//! it); every process compares the counters with those its figures were computed at.

use diesel::prelude::*;

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

/// One cheap read (two rows).
pub fn stamp(conn: &mut DbConnection) -> QueryResult<Stamp> {
    let rows: Vec<(String, i64)> = change_counters::table
        .select((change_counters::name, change_counters::value))
        .load(conn)?;
    let mut stamp = Stamp::default();
    for (name, value) in rows {
        if name == Counter::Reports.name() {
            stamp.reports = value;
        } else if name == Counter::Master.name() {
            stamp.master = value;
        }
    }
    Ok(stamp)
}

/// Bumps a counter. Call it after the change committed, outside its transaction: a
/// process that reads the new value then also sees the change.
pub fn bump(conn: &mut DbConnection, counter: Counter) -> QueryResult<()> {
    let n = diesel::update(change_counters::table.find(counter.name()))
        .set(change_counters::value.eq(change_counters::value + 1))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(change_counters::table)
            .values((
                change_counters::name.eq(counter.name()),
                change_counters::value.eq(1),
            ))
            .execute(conn)?;
    }
    Ok(())
}
