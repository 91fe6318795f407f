//! 宛先情報 (postal details per kind for all targets, the paper reporters or the
//! current search: CSV and address labels) and 報告対象機関一覧 (targets with their
//! login IDs, account state, last sign-in and e-mail).

use chrono::NaiveDateTime;

use super::ExportError;
use crate::db::DbConnection;
use crate::db::exports::{self as store, AccountLine, PostalLine};
use crate::db::review::ReviewFilter;
use crate::domain::auth::AccountState;
use crate::domain::institution::Category;
use crate::domain::wareki;
use crate::services::By;

/// Whose addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Targets,
    /// Targets that report on paper (紙報告): they get their guidance by post.
    Paper,
    /// The review search the officer came from.
    Search,
}

impl Who {
    pub const ALL: [Who; 3] = [Who::Targets, Who::Paper, Who::Search];

    pub fn code(self) -> &'static str {
        match self {
            Who::Targets => "targets",
            Who::Paper => "paper",
            Who::Search => "search",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Who::Targets => "報告対象のすべて",
            Who::Paper => "紙で報告する機関",
            Who::Search => "報告状況検索の結果",
        }
    }

    pub fn from_code(code: &str) -> Option<Who> {
        Who::ALL.into_iter().find(|w| w.code() == code)
    }
}

#[derive(Debug, Clone)]
pub struct ListRequest {
    pub fiscal_year: i32,
    pub who: Who,
    /// 病院 or 診療所; `None` is both.
    pub category: Option<Category>,
    /// The search, for [`Who::Search`].
    pub search: ReviewFilter,
}

impl ListRequest {
    fn filter(&self) -> ReviewFilter {
        let mut f = match self.who {
            Who::Targets => ReviewFilter {
                target: Some(true),
                ..ReviewFilter::default()
            },
            Who::Paper => ReviewFilter {
                target: Some(true),
                paper: Some(true),
                ..ReviewFilter::default()
            },
            Who::Search => self.search.clone(),
        };
        if let Some(c) = self.category {
            f.category = Some(c.code().to_string());
        }
        f
    }
}

/// The institutions of a list, in code order.
fn institution_ids(
    conn: &mut DbConnection,
    by: By,
    request: &ListRequest,
) -> Result<Vec<i32>, ExportError> {
    Ok(
        crate::db::review::search_all(conn, by.scope(), request.fiscal_year, &request.filter())?
            .into_iter()
            .map(|r| r.institution_id)
            .collect(),
    )
}

/// How many institutions a list holds.
pub fn count(conn: &mut DbConnection, by: By, request: &ListRequest) -> Result<usize, ExportError> {
    Ok(institution_ids(conn, by, request)?.len())
}

/// One institution as the mail room needs it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Address {
    pub code: String,
    pub name: String,
    pub category: String,
    pub postcode: String,
    pub address: String,
    pub manager: String,
    /// The names of the institution's account holders (担当者), if any.
    pub holder: String,
    pub phone: String,
    pub email: String,
}

pub const ADDRESS_HEADER: [&str; 9] = [
    "医療機関コード",
    "郵便番号",
    "所在地",
    "名称",
    "管理者",
    "担当者（アカウント）",
    "電話番号",
    "メールアドレス",
    "種別",
];

impl Address {
    pub fn cells(&self) -> [&str; 9] {
        [
            &self.code,
            &self.postcode,
            &self.address,
            &self.name,
            &self.manager,
            &self.holder,
            &self.phone,
            &self.email,
            &self.category,
        ]
    }
}

fn address_of(line: PostalLine, accounts: Option<&Vec<AccountLine>>) -> Address {
    Address {
        category: Category::from_code(&line.category)
            .map_or(line.category.clone(), |c| c.label().to_string()),
        code: line.code,
        name: line.name,
        postcode: line.postcode.unwrap_or_default(),
        address: line.address,
        manager: line.manager.unwrap_or_default(),
        holder: accounts
            .map(|a| {
                a.iter()
                    .filter(|u| u.active)
                    .map(|u| u.display_name.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            })
            .unwrap_or_default(),
        phone: line.phone.unwrap_or_default(),
        email: line.email.unwrap_or_default(),
    }
}

/// The addresses of a list; `audit` records the download (the labels page and the
/// CSV), not a count.
pub fn addresses(
    conn: &mut DbConnection,
    by: By,
    request: &ListRequest,
    audit: Option<&str>,
) -> Result<Vec<Address>, ExportError> {
    let ids = institution_ids(conn, by, request)?;
    let accounts = store::accounts_of(conn, &ids)?;
    let out: Vec<Address> = store::postal_lines(conn, &ids)?
        .into_iter()
        .map(|line| {
            let a = accounts.get(&line.institution_id);
            address_of(line, a)
        })
        .collect();
    if let Some(what) = audit {
        super::record(
            conn,
            by,
            "addresses",
            serde_json::json!({
                "what": what,
                "who": request.who.code(),
                "category": request.category.map(|c| c.code()),
                "rows": out.len(),
            }),
        )?;
    }
    Ok(out)
}

pub const TARGET_HEADER: [&str; 10] = [
    "医療機関コード",
    "名称",
    "種別",
    "保健所",
    "市区町村",
    "メールアドレス（医療機関）",
    "ログインID",
    "アカウントの状態",
    "最終ログイン",
    "メールアドレス（アカウント）",
];

/// 報告対象機関一覧: one line per account (an institution without one: one line saying
/// so), in code order.
pub fn targets(
    conn: &mut DbConnection,
    by: By,
    fiscal_year: i32,
    now: NaiveDateTime,
) -> Result<Vec<[String; 10]>, ExportError> {
    let request = ListRequest {
        fiscal_year,
        who: Who::Targets,
        category: None,
        search: ReviewFilter::default(),
    };
    let ids = institution_ids(conn, by, &request)?;
    let accounts = store::accounts_of(conn, &ids)?;
    let areas = store::area_names(conn)?;
    let area = |id: Option<i32>| id.and_then(|i| areas.get(&i)).cloned().unwrap_or_default();
    let mut out = Vec::with_capacity(ids.len());
    for line in store::postal_lines(conn, &ids)? {
        let base = [
            line.code.clone(),
            line.name.clone(),
            Category::from_code(&line.category)
                .map_or(line.category.clone(), |c| c.label().to_string()),
            area(line.jurisdiction_id),
            area(line.municipality_id),
            line.email.clone().unwrap_or_default(),
        ];
        let Some(users) = accounts.get(&line.institution_id) else {
            let [a, b, c, d, e, f] = base;
            out.push([
                a,
                b,
                c,
                d,
                e,
                f,
                String::new(),
                AccountState::NoAccount.label().into(),
                String::new(),
                String::new(),
            ]);
            continue;
        };
        for u in users {
            let state = AccountState::of(u.active, u.locked_until, u.last_login_at, now);
            let [a, b, c, d, e, f] = base.clone();
            out.push([
                a,
                b,
                c,
                d,
                e,
                f,
                u.login_id.clone(),
                state.label().into(),
                u.last_login_at
                    .map(wareki::datetime_jst)
                    .unwrap_or_default(),
                u.email.clone().unwrap_or_default(),
            ]);
        }
    }
    super::record(
        conn,
        by,
        "targets",
        serde_json::json!({ "what": "報告対象機関一覧", "fiscal_year": fiscal_year, "rows": out.len() }),
    )?;
    Ok(out)
}
