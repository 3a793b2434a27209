//! The UI pages: routing, the shared layout, the login page, the ban
//! forms and the embedded static files. Bodies come from [`super::render`].
//! No I/O of its own (reads the daemon through [`Control`]).
//!
//! [`Control`]: crate::api::Control

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use super::guard::SessionCtx;
use super::html::{esc, fill};
use super::i18n::{translate, Lang};
use super::session::{form_login, form_logout, LOGIN_COOKIE};
use super::{auth, forms, render, AdminState};
use crate::api::json::blocking;

pub(super) const LAYOUT: &str = include_str!("../../web/templates/layout.html");
pub(super) const LOGIN: &str = include_str!("../../web/templates/login.html");
const STYLE: &str = include_str!("../../web/static/style.css");
const SCRIPT: &str = include_str!("../../web/static/app.js");
const ICON: &str = include_str!("../../web/static/favicon.svg");

type St = State<Arc<AdminState>>;
type Ctx = Extension<SessionCtx>;
type L = Extension<Lang>;

/// The page routes.
pub(crate) fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/login", get(login_page).post(form_login))
        .route("/logout", post(form_logout))
        .route("/", get(dashboard))
        .route("/routes", get(routes))
        .route("/access", get(access))
        .route("/bans/add", post(forms::ban_add))
        .route("/bans/delete", post(forms::ban_del))
        .route("/backends/drain", post(forms::drain))
        .route("/connections", get(connections))
        .route("/firewall", get(firewall))
        .route("/config", get(config))
        .route("/config/export", get(config_export))
        .route("/log", get(log))
        .route("/static/{file}", get(static_file))
        .fallback(not_found)
        .with_state(state)
}

const NAV: [(&str, &str, &str); 8] = [
    ("dashboard", "/", "nav.dashboard"),
    ("routes", "/routes", "nav.routes"),
    ("access", "/access", "nav.access"),
    ("connections", "/connections", "nav.connections"),
    ("firewall", "/firewall", "nav.firewall"),
    ("config", "/config", "nav.config"),
    ("log", "/log", "nav.log"),
    ("tokens", "/tokens", "nav.tokens"),
];

/// A page: the header, the navigation and the language switch around `body`.
pub(super) fn layout(
    st: &AdminState,
    ctx: &SessionCtx,
    l: Lang,
    page: &str,
    body: &str,
) -> Html<String> {
    let nav: String = NAV
        .iter()
        .map(|(id, href, label)| {
            let class = if *id == page { " class=\"active\"" } else { "" };
            format!("<a href=\"{href}\"{class}>{}</a>", l.h(label))
        })
        .collect();
    let title = NAV
        .iter()
        .find(|n| n.0 == page)
        .map(|n| l.t(n.2))
        .unwrap_or("");
    let name = st.control.status().name;
    Html(fill(
        &translate(LAYOUT, l),
        &[
            ("lang", l.code()),
            ("other", l.other().code()),
            ("texts", &l.script_texts()),
            ("title", &esc(title)),
            ("name", &esc(&name)),
            ("page", page),
            ("nav", &nav),
            ("csrf", &esc(&ctx.csrf)),
            ("body", body),
        ],
    ))
}

async fn not_found(Extension(l): L) -> Response {
    let body = format!("<h1>{}</h1>", l.h("error.not_found"));
    (StatusCode::NOT_FOUND, Html(body)).into_response()
}

/// `?error=` on the login page.
#[derive(Debug, Deserialize)]
struct LoginQuery {
    error: Option<String>,
}

async fn login_page(Query(q): Query<LoginQuery>, Extension(l): L) -> Response {
    let token = auth::token();
    let message = match q.error.as_deref() {
        Some("wrong") => l.t("login.wrong"),
        Some("locked") => l.t("login.locked"),
        Some("expired") => l.t("login.expired"),
        _ => "",
    };
    let alert = if message.is_empty() {
        String::new()
    } else {
        format!(
            "<div class=\"alert bad\" id=\"login-error\">{}</div>",
            esc(message)
        )
    };
    let page = fill(
        &translate(LOGIN, l),
        &[
            ("lang", l.code()),
            ("other", l.other().code()),
            ("csrf", &token),
            ("alert", &alert),
        ],
    );
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; Path=/login; Secure; HttpOnly; SameSite=Strict; Max-Age=3600"
    );
    ([(header::SET_COOKIE, cookie)], Html(page)).into_response()
}

async fn dashboard(State(st): St, Extension(ctx): Ctx, Extension(l): L) -> Html<String> {
    let c = st.control.clone();
    let bans = blocking(c.clone(), |c| c.bans()).await.unwrap_or_default();
    let mut body = render::dashboard(
        l,
        &c.status(),
        &c.backends(),
        &bans,
        &st.certs.fingerprint(),
    );
    if let Some(v) = c.ha() {
        body.insert_str(0, &render::ha_line(l, &v));
    }
    layout(&st, &ctx, l, "dashboard", &body)
}

async fn routes(State(st): St, Extension(ctx): Ctx, Extension(l): L) -> Html<String> {
    let c = &st.control;
    let body = render::routes(l, &c.routes(), &c.backends(), &ctx.csrf);
    layout(&st, &ctx, l, "routes", &body)
}

async fn access(State(st): St, Extension(ctx): Ctx, Extension(l): L) -> Html<String> {
    let cfg = st.control.running_config();
    let bans = blocking(st.control.clone(), |c| c.bans()).await;
    let body = render::access(l, cfg.as_deref(), &bans, &ctx.csrf);
    layout(&st, &ctx, l, "access", &body)
}

async fn connections(State(st): St, Extension(ctx): Ctx, Extension(l): L) -> Html<String> {
    let body = render::connections(l, &st.control.connections());
    layout(&st, &ctx, l, "connections", &body)
}

async fn firewall(State(st): St, Extension(ctx): Ctx, Extension(l): L) -> Html<String> {
    let r = blocking(st.control.clone(), |c| c.ruleset()).await;
    layout(&st, &ctx, l, "firewall", &render::firewall(l, &r))
}

async fn config(State(st): St, Extension(ctx): Ctx, Extension(l): L) -> Html<String> {
    let c = &st.control;
    let body = render::config(l, &c.config_text(), &c.status(), &c.history());
    layout(&st, &ctx, l, "config", &body)
}

/// The running config's text as a file download (what `parvis export` prints).
async fn config_export(State(st): St) -> Response {
    let c = &st.control;
    let status = c.status();
    let name: String = status
        .name
        .chars()
        .filter(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
        .collect();
    let file = format!(
        "attachment; filename=\"{}-v{}.toml\"",
        if name.is_empty() { "parvis" } else { &name },
        status.config_version
    );
    (
        [
            (
                header::CONTENT_TYPE,
                "application/toml; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, file),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        c.config_text(),
    )
        .into_response()
}

async fn log(
    State(st): St,
    Extension(ctx): Ctx,
    Extension(l): L,
    Query(filter): Query<crate::api::ConnLogFilter>,
) -> Html<String> {
    let c = st.control.clone();
    let f = filter.clone();
    let lines = blocking(c.clone(), move |c| Ok(c.conn_log(&f)))
        .await
        .unwrap_or_default();
    let body = render::log(l, &filter, &lines, &c.events());
    layout(&st, &ctx, l, "log", &body)
}

async fn static_file(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "favicon.svg" => (ICON, "image/svg+xml"),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}
