//! A consistent copy of a live SQLite database with SQLite's online backup API, so that
//! `kakari backup` works while `serve` keeps writing. (PostgreSQL: use pg_dump.)

use std::ffi::{CStr, CString};
use std::path::Path;
use std::ptr;
use std::time::Duration;

use libsqlite3_sys as ffi;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "バックアップ先 {0} は既に存在します。別のファイル名を指定してください (destination exists)"
    )]
    DestinationExists(String),
    #[error("データベース {0} がありません (database not found)")]
    SourceMissing(String),
    #[error("バックアップに失敗しました: {0} (backup failed)")]
    Sqlite(String),
    #[error("バックアップに失敗しました: {0} (backup failed)")]
    Io(#[from] std::io::Error),
    #[error("PostgreSQL のバックアップには pg_dump を使ってください (use pg_dump for PostgreSQL)")]
    NotSqlite,
}

/// Owns a raw SQLite handle and closes it on every path.
struct Handle(*mut ffi::sqlite3);

impl Handle {
    fn open(path: &Path, flags: i32) -> Result<Handle, BackupError> {
        let c_path = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| BackupError::Sqlite("ファイル名に NUL 文字があります".into()))?;
        let mut db = ptr::null_mut();
        // SAFETY: c_path is a valid NUL-terminated string and `db` a valid out-pointer;
        // the handle is closed by Drop even when opening fails (SQLite requires that).
        let rc = unsafe { ffi::sqlite3_open_v2(c_path.as_ptr(), &mut db, flags, ptr::null()) };
        let handle = Handle(db);
        if rc != ffi::SQLITE_OK {
            return Err(BackupError::Sqlite(handle.message()));
        }
        // SAFETY: `db` is an open connection.
        unsafe { ffi::sqlite3_busy_timeout(db, 5_000) };
        Ok(handle)
    }

    fn message(&self) -> String {
        if self.0.is_null() {
            return "out of memory".into();
        }
        // SAFETY: sqlite3_errmsg returns a valid C string owned by the connection.
        unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.0)) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: closing a handle we own (NULL is a harmless no-op).
        unsafe { ffi::sqlite3_close(self.0) };
    }
}

/// Copies `source` to `destination` page by page, letting writers in between steps.
/// The copy is written to a temporary name and renamed at the end, so a failed backup
/// leaves no half-written file behind. Returns the size in bytes.
pub fn backup_sqlite(source: &Path, destination: &Path) -> Result<u64, BackupError> {
    if destination.exists() {
        return Err(BackupError::DestinationExists(
            destination.display().to_string(),
        ));
    }
    if !source.exists() {
        return Err(BackupError::SourceMissing(source.display().to_string()));
    }
    let partial = destination.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let result = copy_pages(source, &partial);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, destination)?;
    Ok(std::fs::metadata(destination)?.len())
}

fn copy_pages(source: &Path, target: &Path) -> Result<(), BackupError> {
    let src = Handle::open(source, ffi::SQLITE_OPEN_READONLY)?;
    let dst = Handle::open(target, ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE)?;
    let main = c"main";
    // SAFETY: both handles are open; the backup object is finished before they drop.
    let backup = unsafe { ffi::sqlite3_backup_init(dst.0, main.as_ptr(), src.0, main.as_ptr()) };
    if backup.is_null() {
        return Err(BackupError::Sqlite(dst.message()));
    }
    let outcome = loop {
        // SAFETY: `backup` is a live backup object.
        let rc = unsafe { ffi::sqlite3_backup_step(backup, 256) };
        match rc {
            ffi::SQLITE_DONE => break Ok(()),
            ffi::SQLITE_OK => continue,
            ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => std::thread::sleep(Duration::from_millis(20)),
            _ => break Err(BackupError::Sqlite(dst.message())),
        }
    };
    // SAFETY: finishing the live backup object exactly once.
    let rc = unsafe { ffi::sqlite3_backup_finish(backup) };
    outcome?;
    if rc != ffi::SQLITE_OK {
        return Err(BackupError::Sqlite(dst.message()));
    }
    Ok(())
}
