//! The administrators' pages: users, 操作履歴, reporting periods and catalogs.

pub mod audit;
pub mod catalogs;
pub mod periods;
pub mod publication;
pub mod users;
