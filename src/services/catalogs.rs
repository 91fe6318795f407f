//! Report catalogs: the shipped one of each fiscal year and the corrected ones
//! administrators load, parsed once and kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;

use super::reports::ReportError;
use crate::db::audit::{self, Action};
use crate::db::{self, DbConnection, DbError};
use crate::domain::catalog::{self, Catalog};

/// Parsed catalogs by (fiscal year, version). A version, once loaded, never changes
/// (the table refuses a second body under the same version), so the cache needs no
/// invalidation.
#[derive(Default)]
pub struct Catalogs {
    parsed: Mutex<HashMap<(i32, String), Arc<Catalog>>>,
    shipped: Mutex<HashMap<i32, Arc<Catalog>>>,
}

impl Catalogs {
    fn cached(&self, fiscal_year: i32, version: &str) -> Option<Arc<Catalog>> {
        self.parsed
            .lock()
            .ok()?
            .get(&(fiscal_year, version.to_string()))
            .cloned()
    }

    fn parse_and_keep(&self, fiscal_year: i32, body: &str) -> Result<Arc<Catalog>, ReportError> {
        let parsed = Catalog::parse(body).map_err(|problems| ReportError::BrokenCatalog {
            version: format!("{fiscal_year}"),
            problem: problems
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
        })?;
        let parsed = Arc::new(parsed);
        if let Ok(mut map) = self.parsed.lock() {
            map.insert((fiscal_year, parsed.version.clone()), parsed.clone());
        }
        Ok(parsed)
    }

    /// The catalog reports of this fiscal year are filed with now: the newest one an
    /// administrator loaded, else the shipped one.
    pub fn current(
        &self,
        conn: &mut DbConnection,
        fiscal_year: i32,
    ) -> Result<Arc<Catalog>, ReportError> {
        if let Some((version, body)) = crate::db::periods::loaded_catalog(conn, fiscal_year)? {
            if let Some(c) = self.cached(fiscal_year, &version) {
                return Ok(c);
            }
            return self.parse_and_keep(fiscal_year, &body);
        }
        self.shipped(fiscal_year)
    }

    fn shipped(&self, fiscal_year: i32) -> Result<Arc<Catalog>, ReportError> {
        if let Some(c) = self
            .shipped
            .lock()
            .ok()
            .and_then(|m| m.get(&fiscal_year).cloned())
        {
            return Ok(c);
        }
        let body = catalog::shipped(fiscal_year).ok_or(ReportError::NoCatalog { fiscal_year })?;
        let parsed = self.parse_and_keep(fiscal_year, body)?;
        if let Ok(mut map) = self.shipped.lock() {
            map.insert(fiscal_year, parsed.clone());
        }
        Ok(parsed)
    }

    /// The catalog a report or version was filed with.
    pub fn version(
        &self,
        conn: &mut DbConnection,
        fiscal_year: i32,
        version: &str,
    ) -> Result<Arc<Catalog>, ReportError> {
        if let Some(c) = self.cached(fiscal_year, version) {
            return Ok(c);
        }
        if let Some(body) = crate::db::periods::catalog_body(conn, fiscal_year, version)? {
            return self.parse_and_keep(fiscal_year, &body);
        }
        let shipped = self.shipped(fiscal_year)?;
        if shipped.version == version {
            Ok(shipped)
        } else {
            Err(ReportError::NoCatalog { fiscal_year })
        }
    }
}

/// Loads a corrected catalog for a fiscal year (CLI and admin page). Refused once any
/// report of that year was submitted, and for a version already loaded.
pub fn load_catalog(
    conn: &mut DbConnection,
    body: &str,
    by: Option<i32>,
) -> Result<Catalog, Vec<String>> {
    let parsed = Catalog::parse(body)
        .map_err(|ps| ps.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let result = db::write_transaction(conn, |conn| -> Result<Result<(), String>, DbError> {
        if crate::db::periods::versions_in_year(conn, parsed.fiscal_year)? > 0 {
            return Ok(Err(format!(
                "{}年度はすでに報告が提出されているため、カタログを差し替えられません",
                parsed.fiscal_year
            )));
        }
        let shipped_same = catalog::shipped(parsed.fiscal_year)
            .and_then(|b| Catalog::parse(b).ok())
            .is_some_and(|c| c.version == parsed.version);
        if shipped_same
            || crate::db::periods::catalog_body(conn, parsed.fiscal_year, &parsed.version)?
                .is_some()
        {
            return Ok(Err(format!(
                "版 {} はすでにあります。新しい版番号（version）を付けてください",
                parsed.version
            )));
        }
        crate::db::periods::insert_catalog(
            conn,
            parsed.fiscal_year,
            &parsed.version,
            body,
            by,
            Utc::now().naive_utc(),
        )?;
        audit::record(
            conn,
            Action::CatalogLoad,
            audit::Entry {
                actor_id: by,
                actor_login: None,
                target_type: Some("catalog"),
                target_id: Some(format!("{}:{}", parsed.fiscal_year, parsed.version)),
                prefecture_id: None,
                detail: None,
                ip: None,
            },
        )?;
        Ok(Ok(()))
    });
    match result {
        Ok(Ok(())) => Ok(parsed),
        Ok(Err(message)) => Err(vec![message]),
        Err(e) => Err(vec![e.to_string()]),
    }
}
