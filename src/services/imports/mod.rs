//! Staged imports: a file is read and previewed (stored with the file itself), then
//! applied in one transaction or cancelled; a stale or repeated apply is refused.

pub mod institutions;
