//! Kakari: the prefecture back office for the かかりつけ医機能報告.
//!
//! Data flows one way: `web` → `domain` ← `db`. `domain` is pure and never imports the
//! other two.

pub mod accounts;
pub mod app;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod import;
pub mod notify;
pub mod password;
pub mod reports;
pub mod review;
pub mod web;
