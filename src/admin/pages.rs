//! The UI pages: routing, the shared layout, the login page, the ban
//! forms and the embedded static files. Bodies come from [`super::render`].
//! No I/O of its own (reads the daemon through [`Control`]).
//!
//! [`Control`]: crate::api::Control

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde::Deserialize;

use super::guard::SessionCtx;
use super::html::{esc, fill};
use super::session::{form_login, form_logout, LOGIN_COOKIE};
use super::{auth, render, AdminState};
use crate::api::json::{blocking, check_ban_secs, parse_addr};

const LAYOUT: &str = include_str!("../../web/templates/layout.html");
const LOGIN: &str = include_str!("../../web/templates/login.html");
const STYLE: &str = include_str!("../../web/static/style.css");
const SCRIPT: &str = include_str!("../../web/static/app.js");
const ICON: &str = include_str!("../../web/static/favicon.svg");

type St = State<Arc<AdminState>>;
type Ctx = Extension<SessionCtx>;

/// The page routes.
pub(crate) fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/login", get(login_page).post(form_login))
        .route("/logout", post(form_logout))
        .route("/", get(dashboard))
        .route("/routes", get(routes))
        .route("/access", get(access))
        .route("/bans/add", post(ban_add))
        .route("/bans/delete", post(ban_del))
        .route("/connections", get(connections))
        .route("/firewall", get(firewall))
        .route("/config", get(config))
        .route("/config/export", get(config_export))
        .route("/log", get(log))
        .route("/static/{file}", get(static_file))
        .fallback(|| async { (StatusCode::NOT_FOUND, Html("<h1>Not found</h1>")) })
        .with_state(state)
}

const NAV: [(&str, &str, &str); 8] = [
    ("dashboard", "/", "Dashboard"),
    ("routes", "/routes", "Routes & backends"),
    ("access", "/access", "Access & bans"),
    ("connections", "/connections", "Connections"),
    ("firewall", "/firewall", "Firewall"),
    ("config", "/config", "Configuration"),
    ("log", "/log", "Log"),
    ("tokens", "/tokens", "API tokens"),
];

pub(super) fn layout(st: &AdminState, ctx: &SessionCtx, page: &str, body: &str) -> Html<String> {
    let nav: String = NAV
        .iter()
        .map(|(id, href, label)| {
            let class = if *id == page { " class=\"active\"" } else { "" };
            format!("<a href=\"{href}\"{class}>{label}</a>")
        })
        .collect();
    let title = NAV.iter().find(|n| n.0 == page).map(|n| n.2).unwrap_or("");
    let name = st.control.status().name;
    Html(fill(
        LAYOUT,
        &[
            ("title", &esc(title)),
            ("name", &esc(&name)),
            ("page", page),
            ("nav", &nav),
            ("csrf", &esc(&ctx.csrf)),
            ("body", body),
        ],
    ))
}

/// `?error=` on the login page.
#[derive(Debug, Deserialize)]
struct LoginQuery {
    error: Option<String>,
}

async fn login_page(Query(q): Query<LoginQuery>) -> Response {
    let token = auth::token();
    let message = match q.error.as_deref() {
        Some("wrong") => "Wrong username or password.",
        Some("locked") => "Too many failed logins from your address. Try again later.",
        Some("expired") => "The login form expired. Please try again.",
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
    let page = fill(LOGIN, &[("csrf", &token), ("alert", &alert)]);
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; Path=/login; Secure; HttpOnly; SameSite=Strict; Max-Age=3600"
    );
    ([(header::SET_COOKIE, cookie)], Html(page)).into_response()
}

async fn dashboard(State(st): St, Extension(ctx): Ctx) -> Html<String> {
    let c = st.control.clone();
    let bans = blocking(c.clone(), |c| c.bans()).await.unwrap_or_default();
    let mut body = render::dashboard(&c.status(), &c.backends(), &bans, &st.certs.fingerprint());
    if let Some(v) = c.ha() {
        body.insert_str(0, &render::ha_line(&v));
    }
    layout(&st, &ctx, "dashboard", &body)
}

async fn routes(State(st): St, Extension(ctx): Ctx) -> Html<String> {
    let body = render::routes(&st.control.routes(), &st.control.backends());
    layout(&st, &ctx, "routes", &body)
}

async fn access(State(st): St, Extension(ctx): Ctx) -> Html<String> {
    let cfg = crate::config::parse(&st.control.config_text()).ok();
    let bans = blocking(st.control.clone(), |c| c.bans()).await;
    let body = render::access(cfg.as_ref(), &bans, &ctx.csrf);
    layout(&st, &ctx, "access", &body)
}

async fn connections(State(st): St, Extension(ctx): Ctx) -> Html<String> {
    let body = render::connections(&st.control.connections());
    layout(&st, &ctx, "connections", &body)
}

async fn firewall(State(st): St, Extension(ctx): Ctx) -> Html<String> {
    let r = blocking(st.control.clone(), |c| c.ruleset()).await;
    layout(&st, &ctx, "firewall", &render::firewall(&r))
}

async fn config(State(st): St, Extension(ctx): Ctx) -> Html<String> {
    let c = &st.control;
    let body = render::config(&c.config_text(), &c.status(), &c.history());
    layout(&st, &ctx, "config", &body)
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

async fn log(State(st): St, Extension(ctx): Ctx) -> Html<String> {
    layout(&st, &ctx, "log", &render::log(&st.control.events()))
}

/// The ban forms (the guard has checked `csrf`).
#[derive(Debug, Deserialize)]
struct BanForm {
    addr: String,
    #[serde(default)]
    minutes: Option<String>,
}

async fn ban_add(State(st): St, Form(f): Form<BanForm>) -> Response {
    let minutes = f.minutes.as_deref().unwrap_or("60").trim().parse::<u64>();
    let checked = parse_addr("addr", &f.addr).and_then(|a| {
        let m = minutes.map_err(|_| crate::api::ApiError::field("minutes", "not a number"))?;
        Ok((a, check_ban_secs(m.saturating_mul(60))?))
    });
    let result = match checked {
        Ok((addr, secs)) => blocking(st.control.clone(), move |c| c.ban_add(addr, secs)).await,
        Err(e) => Err(e),
    };
    after_form(result)
}

async fn ban_del(State(st): St, Form(f): Form<BanForm>) -> Response {
    let result = match parse_addr("addr", &f.addr) {
        Ok(addr) => blocking(st.control.clone(), move |c| c.ban_del(addr)).await,
        Err(e) => Err(e),
    };
    after_form(result)
}

fn after_form(result: Result<(), crate::api::ApiError>) -> Response {
    match result {
        Ok(()) => Redirect::to("/access").into_response(),
        Err(e) => {
            let body = format!(
                "<!doctype html><title>Error</title><link rel=\"stylesheet\" href=\"/static/style.css\"><main><div class=\"alert bad\">{}</div><p><a href=\"/access\">Back</a></p></main>",
                esc(&e.message)
            );
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, Html(body)).into_response()
        }
    }
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
