//! The web application: state, the one route table, middleware and server start-up.

pub mod account_bulk;
pub mod account_links;
pub mod admin;
pub mod applications;
pub mod auth;
pub mod cache;
pub mod charts;
pub mod csrf;
pub mod error;
pub mod exports;
pub mod gate;
pub mod help;
pub mod imports;
pub mod institutions;
pub mod mail;
pub mod ndb;
pub mod pages;
pub mod paper;
pub mod paper_imports;
pub mod public;
pub mod reports;
pub mod review;
pub mod session;
pub mod upload;
pub mod views;

use std::net::TcpListener;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{self, ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{App, HttpServer, guard, web};

use crate::config::Settings;
use crate::db::{self, DatabaseUrl, DbConnection, Pool};
use crate::web::error::AppError;
use gate::{Access, Gate};

pub struct AppState {
    pub pool: Pool,
    pub database: DatabaseUrl,
    pub settings: Settings,
    pub cache: cache::Cache,
    pub catalogs: std::sync::Arc<crate::services::catalogs::Catalogs>,
    /// The public search's in-memory indexes of published years.
    pub public_search: std::sync::Arc<crate::services::publication::search::SearchIndexes>,
}

impl AppState {
    /// The deployment's prefectures and demo flag, from the cache when fresh.
    pub async fn deployment(&self) -> Result<cache::Deployment, AppError> {
        if let Some(d) = self.cache.deployment() {
            return Ok(d);
        }
        let d = self
            .db(|conn| {
                Ok(cache::Deployment {
                    prefectures: db::areas::prefectures(conn)?
                        .into_iter()
                        .map(|p| p.name)
                        .collect(),
                    demo: db::meta::is_demo(conn)?,
                })
            })
            .await?;
        self.cache.set_deployment(d.clone());
        Ok(d)
    }

    /// Runs a service (or any blocking database work) on the blocking thread pool, never
    /// on an async worker; its error becomes the page's.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        E: Into<AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.try_run(f).await?.map_err(Into::into)
    }

    /// Like [`AppState::run`], for a handler that shows some service errors itself (a
    /// form with its messages): only a lost connection or a panic is an error here.
    pub async fn try_run<T, E, F>(&self, f: F) -> Result<Result<T, E>, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        E: Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let outcome = web::block(move || match pool.get() {
            Ok(mut conn) => Ok(f(&mut conn)),
            Err(e) => Err(db::DbError::from(e)),
        })
        .await?;
        Ok(outcome?)
    }

    /// The change counters now, read before computing figures to keep (see `cache`).
    pub async fn stamp(&self) -> Result<db::changes::Stamp, AppError> {
        self.db(|conn| Ok(db::changes::stamp(conn)?)).await
    }

    /// Reads through `db` on the blocking thread pool, never on an async worker.
    pub async fn db<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, db::DbError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
        .map_err(AppError::from)
    }
}

/// What the route table says about one route (for the access tests and for 405).
#[derive(Debug, Clone, Copy)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

/// Declares every route once: method, path, who may use it, handler. Expands to the
/// actix configuration (each resource wrapped in its [`Gate`]) and to [`ROUTES`].
macro_rules! route_table {
    ($($method:ident $path:literal $access:expr => $handler:path;)*) => {
        pub const ROUTES: &[RouteInfo] = &[
            $(RouteInfo { method: stringify!($method), path: $path, access: $access },)*
        ];

        pub fn routes(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        .guard(method_guard(stringify!($method)))
                        .route(web::route().to($handler))
                        .wrap(Gate($access)),
                );
            )*
        }
    };
}

const ADMIN: Access = Access::Roles(gate::ADMINS);
const OFFICER: Access = Access::Roles(gate::OFFICERS);
const MASTER: Access = Access::Roles(gate::MASTER);
/// Institutions file their own reports; officers file by proxy (scope decides which).
const FILER: Access = Access::SignedIn;

route_table! {
    GET  "/"                          Access::Public   => pages::home;
    GET  "/health"                    Access::Open     => pages::health;
    GET  "/static/app.css"            Access::Open     => pages::stylesheet;
    GET  "/login"                     Access::Public   => auth::login_form;
    POST "/login"                     Access::Public   => auth::login;
    POST "/logout"                    Access::PasswordChange => auth::logout;
    GET  "/account/password"          Access::PasswordChange => auth::password_form;
    POST "/account/password"          Access::PasswordChange => auth::change_password;
    GET  "/register"                  Access::Public   => applications::register_form;
    POST "/register"                  Access::Public   => applications::register;
    GET  "/accounts/applications"     OFFICER          => applications::list;
    GET  "/accounts/applications/{id}" OFFICER         => applications::detail;
    POST "/accounts/applications/{id}/{decision}" OFFICER => applications::decide;
    GET  "/accounts/bulk-approval"    OFFICER          => account_bulk::approval_preview;
    POST "/accounts/bulk-approval"    OFFICER          => account_bulk::approve;
    GET  "/accounts/invitations"      OFFICER          => account_bulk::invitations_preview;
    POST "/accounts/invitations"      OFFICER          => account_bulk::invite;
    GET  "/account/forgot"            Access::Public   => account_links::forgot_form;
    POST "/account/forgot"            Access::Public   => account_links::forgot;
    GET  "/account/link/{token}"      Access::Public   => account_links::link_form;
    POST "/account/link/{token}"      Access::Public   => account_links::set_password;
    GET  "/account/sessions"          Access::SignedIn => auth::sessions_page;
    POST "/account/sessions/end"      Access::SignedIn => auth::end_sessions;
    GET  "/admin/users"               ADMIN            => admin::users::users;
    GET  "/admin/users/new"           ADMIN            => admin::users::new_user_form;
    POST "/admin/users/new"           ADMIN            => admin::users::create_user;
    GET  "/admin/users/{id}"          ADMIN            => admin::users::user_form;
    POST "/admin/users/{id}"          ADMIN            => admin::users::update_user;
    POST "/admin/users/{id}/active"   ADMIN            => admin::users::set_active;
    POST "/admin/users/{id}/password" ADMIN            => admin::users::temporary_password;
    POST "/admin/users/{id}/sessions/end" ADMIN        => admin::users::end_sessions;
    POST "/admin/users/{id}/link"     ADMIN            => admin::users::send_link;
    GET  "/admin/audit"               ADMIN            => admin::audit::audit_log;
    GET  "/admin/periods"             ADMIN            => admin::periods::periods;
    POST "/admin/periods"             ADMIN            => admin::periods::set_period;
    GET  "/admin/catalogs"            ADMIN            => admin::catalogs::catalogs;
    POST "/admin/catalogs"            ADMIN            => admin::catalogs::load_catalog;
    GET  "/admin/publication"         ADMIN            => admin::publication::settings;
    POST "/admin/publication/rules"   ADMIN            => admin::publication::save_rules;
    POST "/admin/publication/population" ADMIN         => admin::publication::population;
    GET  "/admin/publication/{fy}"    ADMIN            => admin::publication::preview;
    GET  "/admin/publication/{fy}/raw" ADMIN           => admin::publication::raw_tables;
    POST "/admin/publication/{fy}/{action}" ADMIN      => admin::publication::change;
    GET  "/admin/notices"             ADMIN            => admin::help::notices;
    POST "/admin/notices"             ADMIN            => admin::help::create_notice;
    POST "/admin/notices/{id}"        ADMIN            => admin::help::update_notice;
    POST "/admin/notices/{id}/delete" ADMIN            => admin::help::delete_notice;
    GET  "/admin/faq"                 ADMIN            => admin::help::faq;
    POST "/admin/faq"                 ADMIN            => admin::help::create_faq;
    POST "/admin/faq/{id}"            ADMIN            => admin::help::update_faq;
    POST "/admin/faq/{id}/delete"     ADMIN            => admin::help::delete_faq;
    GET  "/admin/documents"           ADMIN            => admin::help::documents;
    POST "/admin/documents"           ADMIN            => admin::help::upload_document;
    POST "/admin/documents/{id}/delete" ADMIN          => admin::help::delete_document;
    GET  "/help"                      Access::Public   => help::help;
    GET  "/help/documents/{id}"       Access::SignedIn => help::download;
    GET  "/ndb/import"                MASTER           => ndb::upload_form;
    POST "/ndb/import"                MASTER           => ndb::upload;
    GET  "/ndb/imports/{id}"          MASTER           => ndb::show;
    POST "/ndb/imports/{id}/apply"    MASTER           => ndb::apply;
    POST "/ndb/imports/{id}/cancel"   MASTER           => ndb::cancel;
    GET  "/ndb/imports/{id}/rows.csv" MASTER           => ndb::rows_csv;
    GET  "/institutions"              OFFICER          => institutions::search;
    GET  "/institutions.csv"          OFFICER          => institutions::search_csv;
    GET  "/institutions/template.csv" MASTER           => institutions::template_csv;
    GET  "/institutions/import"       MASTER           => imports::upload_form;
    POST "/institutions/import"       MASTER           => imports::upload;
    GET  "/institutions/imports/{id}" MASTER           => imports::show;
    POST "/institutions/imports/{id}/apply"  MASTER    => imports::apply;
    POST "/institutions/imports/{id}/cancel" MASTER    => imports::cancel;
    POST "/institutions/imports/{id}/retire" MASTER    => imports::retire_missing;
    GET  "/institutions/imports/{id}/rows.csv" MASTER  => imports::rows_csv;
    GET  "/paper"                     OFFICER          => paper::index;
    GET  "/paper/flags"               OFFICER          => paper::flags_preview;
    POST "/paper/flags"               OFFICER          => paper::flags_apply;
    GET  "/paper/forms"               OFFICER          => paper::forms_all;
    GET  "/paper/forms.zip"           OFFICER          => paper::forms_zip;
    GET  "/paper/forms/{id}"          OFFICER          => paper::form_one;
    GET  "/paper/forms/{id}/xlsx"     OFFICER          => paper::form_one_xlsx;
    GET  "/paper/imports"             OFFICER          => paper_imports::form;
    POST "/paper/imports"             OFFICER          => paper_imports::upload;
    GET  "/paper/imports/{id}"        OFFICER          => paper_imports::show;
    POST "/paper/imports/{id}/apply"  OFFICER          => paper_imports::apply;
    POST "/paper/imports/{id}/cancel" OFFICER          => paper_imports::cancel;
    GET  "/institutions/{id}"         OFFICER          => institutions::detail;
    POST "/institutions/{id}"         OFFICER          => institutions::update;
    GET  "/institutions/{id}/reports" FILER            => reports::filing::filings;
    GET  "/institutions/{id}/reports/{fy}/start" FILER => reports::filing::start_form;
    POST "/institutions/{id}/reports/{fy}/start" FILER => reports::filing::start;
    GET  "/reports/{id}"              FILER            => reports::overview::overview;
    GET  "/reports/{id}/sections/{section}" FILER      => reports::entry::section_form;
    POST "/reports/{id}/sections/{section}" FILER      => reports::entry::save_section;
    POST "/reports/{id}/sections/{section}/resolve" FILER => reports::entry::resolve;
    GET  "/reports/{id}/submit"       FILER            => reports::overview::confirm_page;
    POST "/reports/{id}/submit"       FILER            => reports::overview::submit;
    POST "/reports/{id}/pullback"     FILER            => reports::overview::pull_back;
    GET  "/reports/{id}/poster"       FILER            => reports::print::poster;
    GET  "/reports/{id}/versions/{n}" FILER            => reports::print::version_print;
    GET  "/reports/{id}/versions/{n}/answers.json" FILER => reports::print::version_json;
    POST "/reports/{id}/memos"        FILER            => review::detail::add_memo;
    GET  "/review"                    OFFICER          => review::search::search;
    GET  "/review.csv"                OFFICER          => review::search::search_csv;
    GET  "/review/unreported"         OFFICER          => review::search::unreported;
    GET  "/review/stats"              OFFICER          => review::stats::stats_page;
    GET  "/review/news"               OFFICER          => review::news::news;
    GET  "/review/reports/{id}"       OFFICER          => review::detail::detail;
    POST "/review/reports/{id}/confirm"  OFFICER       => review::detail::confirm;
    POST "/review/reports/{id}/sendback" OFFICER       => review::detail::send_back;
    POST "/review/bulk"               OFFICER          => review::bulk::bulk_preview;
    GET  "/review/bulk/{id}"          OFFICER          => review::bulk::bulk_show;
    POST "/review/bulk/{id}/commit"   OFFICER          => review::bulk::bulk_commit;
    GET  "/mail"                      OFFICER          => mail::history::campaigns;
    GET  "/mail/new"                  OFFICER          => mail::broadcast::new_form;
    GET  "/mail/preview"              OFFICER          => mail::broadcast::preview;
    GET  "/mail/no-address.csv"       OFFICER          => mail::broadcast::no_address_csv;
    POST "/mail/campaigns"            OFFICER          => mail::broadcast::create;
    GET  "/mail/campaigns/{id}"       OFFICER          => mail::history::campaign;
    GET  "/mail/campaigns/{id}/progress" OFFICER       => mail::history::progress;
    GET  "/mail/campaigns/{id}/failures.csv" OFFICER   => mail::history::failures_csv;
    POST "/mail/campaigns/{id}/{action}" OFFICER       => mail::history::change;
    GET  "/mail/bounces"              OFFICER          => mail::bounces::form;
    POST "/mail/bounces"              OFFICER          => mail::bounces::upload;
    GET  "/mail/templates"            OFFICER          => mail::templates::list;
    GET  "/mail/templates/{key}"      OFFICER          => mail::templates::edit;
    POST "/mail/templates/{key}"      ADMIN            => mail::templates::save;
    POST "/mail/templates/{key}/preview" OFFICER       => mail::templates::preview;
    POST "/mail/templates/{key}/reset" ADMIN           => mail::templates::reset;
    GET  "/static/mail.js"            Access::Open     => pages::mail_script;
    GET  "/exports"                   OFFICER          => exports::index;
    GET  "/exports/reports"           OFFICER          => exports::reports_form;
    POST "/exports/reports"           OFFICER          => exports::reports_prepare;
    GET  "/exports/files/{token}"     OFFICER          => exports::prepared;
    GET  "/exports/files/{token}/download" OFFICER     => exports::download;
    GET  "/exports/addresses"         OFFICER          => exports::addresses;
    GET  "/exports/addresses.csv"     OFFICER          => exports::addresses_csv;
    GET  "/exports/labels"            OFFICER          => exports::labels;
    GET  "/exports/labels.css"        OFFICER          => exports::labels_css;
    GET  "/exports/targets"           OFFICER          => exports::targets;
    GET  "/exports/targets.csv"       OFFICER          => exports::targets_csv;
    GET  "/public"                    Access::Open     => public::index;
    GET  "/public/{prefecture}/{fy}"  Access::Open     => public::search;
    GET  "/public/{prefecture}/{fy}/institutions/{code}" Access::Open => public::institution;
    GET  "/public/{prefecture}/{fy}/tables" Access::Open => public::tables;
    GET  "/public/{prefecture}/{fy}/rules" Access::Open => public::rules;
    GET  "/public/{prefecture}/{fy}/download/tables" Access::Open => public::tables_file;
    GET  "/public/{prefecture}/{fy}/download/institutions" Access::Open => public::public_file;
}

const FORM_LIMIT: usize = 2 * 1024 * 1024;

/// GET routes answer HEAD too.
fn method_guard(method: &str) -> guard::AnyGuard {
    match method {
        "GET" => guard::Any(guard::Get()).or(guard::Head()),
        "POST" => guard::Any(guard::Post()),
        other => guard::Any(guard::Method(
            actix_web::http::Method::from_bytes(other.as_bytes())
                .unwrap_or(actix_web::http::Method::GET),
        )),
    }
}

/// Unmatched requests: 405 with the methods the path answers (`Allow`) when the path
/// exists for another method, else 404.
async fn fallback(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, AppError> {
    let mut allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|r| actix_web::dev::ResourceDef::new(r.path).is_match(req.path()))
        .flat_map(|r| match r.method {
            "GET" => vec!["GET", "HEAD"],
            other => vec![other],
        })
        .collect();
    if allowed.is_empty() {
        return Err(AppError::NotFound);
    }
    allowed.sort_unstable();
    allowed.dedup();
    let mut page = views::error_page(actix_web::http::StatusCode::METHOD_NOT_ALLOWED, None, None);
    if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
        page.headers_mut().insert(header::ALLOW, value);
    }
    Ok(page)
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Logs one line per request and marks responses uncachable unless they say otherwise
/// (pages carry personal data).
async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_string();
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    tracing::debug!(
        %method,
        %path,
        status = res.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    Ok(res)
}

/// Gives errors raised outside our handlers (unknown method, malformed request…) the
/// same Japanese page as ours.
fn japanese_error_page<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, _) = res.into_parts();
    let page = views::error_page(status, None, None);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, page).map_into_right_body(),
    ))
}

/// Builds the server on an already bound listener (so callers control the port and
/// report "port in use" themselves).
pub fn server(
    state: AppState,
    listener: TcpListener,
    workers: usize,
    key: actix_web::cookie::Key,
) -> std::io::Result<Server> {
    let secure = state.settings.cookie_secure;
    // Browsers that reached us over https once keep to https (HSTS), when the public
    // address is https; over plain http the header would mean nothing.
    let https = state
        .settings
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let pool_size = state.settings.pool_size as usize;
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            // A report screen may carry long free text (a 100,000-character answer is
            // 900 KB URL-encoded); it must reach the validator and get a message.
            .app_data(web::FormConfig::default().limit(FORM_LIMIT))
            .app_data(web::PayloadConfig::default().limit(FORM_LIMIT))
            .wrap(ErrorHandlers::new().default_handler(japanese_error_page))
            .wrap({
                let headers = middleware::DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CSP))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "same-origin"));
                if https {
                    headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
                } else {
                    headers
                }
            })
            .wrap(session::middleware(key.clone(), secure))
            .wrap(middleware::from_fn(request_log))
            .wrap(middleware::Compress::default())
            .configure(routes)
            .default_service(web::to(fallback))
    })
    .listen(listener)?;
    let workers = if workers > 0 {
        workers
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    };
    // Every blocking task takes a database connection, so more blocking threads than
    // connections would only wait inside the pool, where waiting is not first-come
    // first-served; tokio's queue in front of the threads is (measured: the p99 of the
    // signed-in home page on PostgreSQL under saturation fell from about 500 ms).
    server = server
        .workers(workers)
        .worker_max_blocking_threads(pool_size.div_ceil(workers).max(1));
    Ok(server.run())
}
