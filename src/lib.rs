//! Kakari: the prefecture back office for the かかりつけ医機能報告.
//!
//! Layers (docs/architecture.md): `web` → `services` → `db`, and every layer may use
//! `domain`, which is pure and imports none of them. `import` reads files into plans
//! (no database); `cli` commands in `main.rs` call the same services as `web`.

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod export;
pub mod import;
pub mod mail;
pub mod password;
pub mod services;
pub mod web;
