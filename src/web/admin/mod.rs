//! The administrators' pages: users, 操作履歴, reporting periods, catalogs, 公表, and
//! お知らせ・FAQ・資料.

pub mod audit;
pub mod catalogs;
pub mod help;
pub mod periods;
pub mod publication;
pub mod users;
