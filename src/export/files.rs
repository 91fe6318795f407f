//! Files prepared for download: written under `data_dir/exports/` by a background
//! thread, with a small JSON record beside each (who asked, what it holds, how far the
//! writing has got), so a page can show progress and the result, and only the person
//! who asked can download it. Files are removed after [`KEEP_HOURS`].

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// How long a prepared file is kept.
pub const KEEP_HOURS: i64 = 24;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Prepared {
    pub token: String,
    pub owner: i32,
    /// What the file is, for the page: 「全項目CSV」.
    pub title: String,
    /// The download's name: 鹿児島県_令和8年度_全項目_20270401.csv
    pub file_name: String,
    pub extension: String,
    pub content_type: String,
    /// Rows expected and written so far (data rows, without headings).
    pub total: usize,
    pub written: usize,
    pub columns: usize,
    /// Characters CP932 could not hold (CSV in Shift_JIS only).
    pub replaced: usize,
    pub encoding: String,
    pub done: bool,
    pub error: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn directory(data_dir: &Path) -> PathBuf {
    data_dir.join("exports")
}

/// A token that cannot be guessed.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Only our own tokens name files: 32 lowercase hex digits.
fn valid(token: &str) -> bool {
    token.len() == 32
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn data_path(data_dir: &Path, p: &Prepared) -> PathBuf {
    directory(data_dir).join(format!("{}.{}", p.token, p.extension))
}

fn meta_path(data_dir: &Path, token: &str) -> PathBuf {
    directory(data_dir).join(format!("{token}.json"))
}

/// Writes the record (a whole new file renamed into place, so a reader never sees
/// half of it).
pub fn save(data_dir: &Path, p: &Prepared) -> std::io::Result<()> {
    std::fs::create_dir_all(directory(data_dir))?;
    let path = meta_path(data_dir, &p.token);
    let partial = path.with_extension("json.partial");
    std::fs::write(
        &partial,
        serde_json::to_vec(p).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(partial, path)
}

/// The record of `token` if `owner` asked for it (anyone else: none, as if absent).
pub fn load(data_dir: &Path, token: &str, owner: i32) -> Option<Prepared> {
    if !valid(token) {
        return None;
    }
    let bytes = std::fs::read(meta_path(data_dir, token)).ok()?;
    let p: Prepared = serde_json::from_slice(&bytes).ok()?;
    (p.owner == owner && p.token == token).then_some(p)
}

/// Removes files older than [`KEEP_HOURS`]; how many records went.
pub fn remove_old(data_dir: &Path, now: NaiveDateTime) -> usize {
    let Ok(entries) = std::fs::read_dir(directory(data_dir)) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Some(p) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Prepared>(&b).ok())
        else {
            continue;
        };
        if now - p.created_at > chrono::Duration::hours(KEEP_HOURS) {
            let _ = std::fs::remove_file(data_path(data_dir, &p));
            let _ = std::fs::remove_file(&path);
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_found_by_its_owner_only_and_old_ones_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let now = chrono::Utc::now().naive_utc();
        let p = Prepared {
            token: new_token(),
            owner: 7,
            title: "全項目CSV".into(),
            file_name: "x.csv".into(),
            extension: "csv".into(),
            content_type: "text/csv".into(),
            total: 2,
            written: 2,
            columns: 3,
            replaced: 0,
            encoding: "utf-8-bom".into(),
            done: true,
            error: None,
            created_at: now,
        };
        save(dir.path(), &p).unwrap();
        std::fs::write(data_path(dir.path(), &p), b"a,b\r\n").unwrap();
        assert_eq!(load(dir.path(), &p.token, 7), Some(p.clone()));
        assert_eq!(load(dir.path(), &p.token, 8), None, "another user's file");
        assert_eq!(load(dir.path(), "../../etc/passwd", 7), None);
        assert_eq!(remove_old(dir.path(), now), 0);
        assert_eq!(remove_old(dir.path(), now + chrono::Duration::hours(25)), 1);
        assert!(!data_path(dir.path(), &p).exists());
        assert_eq!(load(dir.path(), &p.token, 7), None);
    }
}
