//! The UI's plain HTML forms that change state: bans (add, lift) and
//! draining a backend's server. The guard has checked the session and the
//! CSRF token before they run; a bearer token never reaches them (tokens
//! are for `/api/v1` only), so only the logged-in administrator, who holds
//! the write role, can use them. No I/O of its own (calls the daemon
//! through [`Control`]).
//!
//! [`Control`]: crate::api::Control

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::html::esc;
use super::i18n::Lang;
use super::AdminState;
use crate::api::json::{blocking, check_ban_secs, parse_addr};
use crate::api::ApiError;

type St = State<Arc<AdminState>>;

/// The ban forms.
#[derive(Debug, Deserialize)]
pub(crate) struct BanForm {
    addr: String,
    #[serde(default)]
    minutes: Option<String>,
}

/// `POST /bans/add`.
pub(crate) async fn ban_add(
    State(st): St,
    Extension(l): Extension<Lang>,
    Form(f): Form<BanForm>,
) -> Response {
    let Ok(addr) = parse_addr("addr", &f.addr) else {
        return refused(l, "/access", 400, &l.h("form.bad_addr"));
    };
    let Ok(minutes) = f.minutes.as_deref().unwrap_or("60").trim().parse::<u64>() else {
        return refused(l, "/access", 400, &l.h("form.bad_minutes"));
    };
    let result = match check_ban_secs(minutes.saturating_mul(60)) {
        Ok(secs) => blocking(st.control.clone(), move |c| c.ban_add(addr, secs)).await,
        Err(e) => Err(e),
    };
    after(l, "/access", result)
}

/// `POST /bans/delete`.
pub(crate) async fn ban_del(
    State(st): St,
    Extension(l): Extension<Lang>,
    Form(f): Form<BanForm>,
) -> Response {
    let Ok(addr) = parse_addr("addr", &f.addr) else {
        return refused(l, "/access", 400, &l.h("form.bad_addr"));
    };
    let result = blocking(st.control.clone(), move |c| c.ban_del(addr)).await;
    after(l, "/access", result)
}

/// The drain form: `on` is `1` to drain, `0` to undrain.
#[derive(Debug, Deserialize)]
pub(crate) struct DrainForm {
    backend: String,
    server: String,
    on: String,
}

/// `POST /backends/drain`.
pub(crate) async fn drain(
    State(st): St,
    Extension(l): Extension<Lang>,
    Form(f): Form<DrainForm>,
) -> Response {
    let on = match f.on.as_str() {
        "1" => true,
        "0" => false,
        _ => return refused(l, "/routes", 400, &l.h("form.bad_drain")),
    };
    let result = blocking(st.control.clone(), move |c| {
        c.drain(&f.backend, &f.server, on)
    })
    .await;
    after(l, "/routes", result)
}

fn after(l: Lang, back: &str, result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => Redirect::to(back).into_response(),
        Err(e) => {
            // The daemon's reason in the page's language where the message
            // catalogue knows it (its values as written), else in English.
            let msg = l.f("form.refused", &[("reason", &l.message(&e.message))]);
            refused(l, back, e.status, &msg)
        }
    }
}

/// The error page of a form: `message` is HTML.
pub(crate) fn refused(l: Lang, back: &str, status: u16, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"{}\"><title>{}</title><link rel=\"stylesheet\" href=\"/static/style.css\"><main><div class=\"alert bad\" id=\"form-error\">{message}</div><p><a href=\"{}\">{}</a></p></main></html>",
        l.code(),
        l.h("form.error_title"),
        esc(back),
        l.h("form.back")
    );
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Html(body)).into_response()
}
