//! The one integration test binary: the real application on a real database (a temporary
//! SQLite file, or a fresh PostgreSQL database when TEST_DATABASE_URL is set), driven over
//! HTTP and through the `kakari` command.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is the test failing"
)]

mod account_bulk;
mod accounts;
mod browser;
mod cli;
mod crawl;
mod exports;
mod foundation;
mod hardening;
mod help;
mod imports;
mod links;
mod mail;
mod mail_pages;
mod paper;
mod paper_filled;
mod publication;
mod reports;
mod review;
mod season;
mod support;
