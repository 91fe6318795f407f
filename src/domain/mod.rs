//! Pure domain rules: no IO, no database, no web. Everything here is unit-tested.

pub mod application;
pub mod area;
pub mod auth;
pub mod bounce;
pub mod catalog;
pub mod codes;
pub mod demo;
pub mod determination;
pub mod export;
pub mod help;
pub mod institution;
pub mod links;
pub mod mail;
pub mod normalize;
pub mod paging;
pub mod paper_form;
pub mod publication;
pub mod report;
pub mod suppression;
pub mod wareki;
