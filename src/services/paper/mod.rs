//! Paper reporters (issue 18): who reports on paper, the survey forms printed and
//! mailed to them, and the filled forms entered back.

pub mod forms;
pub mod imports;
pub mod read;
pub mod staged;
pub mod targets;
pub mod xlsx;

use super::{Failure, Kind};
use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum PaperError {
    #[error("{0}")]
    Invalid(String),
    #[error("見つかりません")]
    NotFound,
    #[error("{0}")]
    Stage(#[from] crate::services::imports::StageError),
    #[error(transparent)]
    Db(#[from] DbError),
}

db_errors!(PaperError);

impl Failure for PaperError {
    fn kind(&self) -> Kind {
        match self {
            PaperError::Invalid(_) => Kind::Invalid,
            PaperError::NotFound => Kind::NotFound,
            PaperError::Stage(e) => e.kind(),
            PaperError::Db(e) => e.kind(),
        }
    }
}
