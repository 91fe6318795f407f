//! The prefecture's review pages: 報告状況検索 with counts per status, CSV and the
//! 未報告機関一覧 (`search`); the report detail with 差異表示, 確認, 差戻し and 疑義照会
//! メモ (`detail`); 一括確認 (`bulk`); 件数集計 with charts (`stats`); and 新着 (`news`).

pub mod bulk;
pub mod detail;
pub mod news;
pub mod search;
pub mod stats;

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::views;
use crate::db::review::{ReviewFilter, ReviewSort, StatusFilter};
use crate::domain::codes::search_code;
use crate::domain::institution::Category;
use crate::domain::normalize::{self, search_key};
use crate::domain::report::{ReportKind, Status};
use crate::domain::wareki;

pub const PER_PAGE: i64 = 50;

pub(crate) fn current_fiscal_year() -> i32 {
    wareki::fiscal_year_of(wareki::today_jst(Utc::now()))
}

/// The search form as typed (kept, so the page shows it back).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ReviewQuery {
    #[serde(default)]
    fy: Option<i32>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    jurisdiction: String,
    #[serde(default)]
    municipality: String,
    #[serde(default)]
    f1: String,
    #[serde(default)]
    ah: String,
    #[serde(default)]
    ad: String,
    #[serde(default)]
    hc: String,
    #[serde(default)]
    cc: String,
    #[serde(default)]
    proxy: String,
    #[serde(default)]
    paper: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    page: Option<i64>,
}

pub(super) fn yes_no(text: &str) -> Option<bool> {
    match text {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

pub(super) const STATUS_CHOICES: [(&str, &str); 8] = [
    ("none", "未報告"),
    ("draft", "一時保存"),
    ("submitted", "報告済"),
    ("returned", "差戻し"),
    ("resubmitted", "再報告済"),
    ("confirmed", "確認済"),
    ("unsubmitted", "未提出（未報告・一時保存・差戻し）"),
    ("awaiting", "確認待ち（報告済・再報告済）"),
];

impl ReviewQuery {
    /// The search carried in a page's query beside that page's own fields (`own`):
    /// the broadcast form, the address lists.
    pub(crate) fn from_pairs(
        pairs: &[(String, String)],
        own: &[&str],
    ) -> Result<ReviewQuery, crate::web::error::AppError> {
        let search: Vec<&(String, String)> = pairs
            .iter()
            .filter(|(k, _)| !own.contains(&k.as_str()))
            .collect();
        let encoded = serde_urlencoded::to_string(&search).unwrap_or_default();
        serde_urlencoded::from_str(&encoded).map_err(|e| {
            crate::web::error::AppError::BadRequest(format!("入力内容を読み取れませんでした ({e})"))
        })
    }

    pub(crate) fn fiscal_year(&self) -> i32 {
        self.fy
            .filter(|y| (2024..=2100).contains(y))
            .unwrap_or_else(current_fiscal_year)
    }

    /// The filter, or the messages to show next to the fields.
    pub(crate) fn filter(&self) -> Result<ReviewFilter, BTreeMap<&'static str, String>> {
        let mut errors = BTreeMap::new();
        let status = match self.status.as_str() {
            "" => None,
            "none" => Some(StatusFilter::NotReported),
            "unsubmitted" => Some(StatusFilter::Unsubmitted),
            "awaiting" => Some(StatusFilter::AwaitingReview),
            other => match Status::from_code(other) {
                Some(s) => Some(StatusFilter::Is(s)),
                None => {
                    errors.insert("status", "状態を選び直してください".to_string());
                    None
                }
            },
        };
        let code = search_code(&self.code).unwrap_or_else(|message| {
            errors.insert("code", message);
            None
        });
        let mut date = |field: &'static str, text: &str| match text.trim() {
            "" => None,
            t => {
                let d = NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .ok()
                    .or_else(|| normalize::parse_date(t).ok());
                if d.is_none() {
                    errors.insert(
                        field,
                        "日付を 2027-01-31 の形で入力してください".to_string(),
                    );
                }
                d
            }
        };
        let submitted_from = date("from", &self.from);
        let submitted_to = date("to", &self.to);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ReviewFilter {
            status,
            kind: ReportKind::from_code(&self.kind).map(|k| k.code().to_string()),
            category: Category::from_code(&self.category).map(|c| c.code().to_string()),
            jurisdiction_id: self.jurisdiction.parse().ok(),
            municipality_id: self.municipality.parse().ok(),
            function1: yes_no(&self.f1),
            function2: [
                yes_no(&self.ah),
                yes_no(&self.ad),
                yes_no(&self.hc),
                yes_no(&self.cc),
            ],
            proxy: yes_no(&self.proxy),
            paper: yes_no(&self.paper),
            has_email: yes_no(&self.email),
            target: None,
            submitted_from,
            submitted_to,
            name_key: Some(search_key(&self.q)).filter(|k| !k.is_empty()),
            code,
        })
    }

    pub(super) fn sort(&self) -> (ReviewSort, bool) {
        let key = match self.sort.as_str() {
            "name" => ReviewSort::Name,
            "submitted" => ReviewSort::Submitted,
            "status" => ReviewSort::Status,
            _ => ReviewSort::Code,
        };
        (key, self.dir == "desc")
    }

    /// The query string without page, sort and direction.
    pub(crate) fn base_query(&self) -> String {
        let fy = self.fiscal_year().to_string();
        serde_urlencoded::to_string([
            ("fy", fy.as_str()),
            ("status", &self.status),
            ("kind", &self.kind),
            ("category", &self.category),
            ("jurisdiction", &self.jurisdiction),
            ("municipality", &self.municipality),
            ("f1", &self.f1),
            ("ah", &self.ah),
            ("ad", &self.ad),
            ("hc", &self.hc),
            ("cc", &self.cc),
            ("proxy", &self.proxy),
            ("paper", &self.paper),
            ("email", &self.email),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
            ("code", &self.code),
        ])
        .unwrap_or_default()
    }
}
