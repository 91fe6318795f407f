//! The 件数集計 figures as the stats page and the officer home page show them.

use serde::Serialize;

/// The figures of 件数集計 and of the officer home page.
#[derive(Serialize, Default)]
pub struct Stats {
    pub fiscal_year: i32,
    pub targets: i64,
    pub submitted: i64,
    pub confirmed: i64,
    pub unsubmitted: i64,
    /// (day, periodic, change)
    pub daily: Vec<(String, i64, i64)>,
    /// (month, periodic, change)
    pub monthly: Vec<(String, i64, i64)>,
    /// (保健所, targets, submitted, confirmed)
    pub areas: Vec<(String, i64, i64, i64)>,
    pub cumulative_svg: String,
    pub areas_svg: String,
}
