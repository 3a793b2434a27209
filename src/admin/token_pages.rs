//! The UI's API tokens page: the list, a form to make one (the token is
//! shown once, in the answer to that form) and revoke buttons. Does I/O
//! (the token file, through [`super::tokens`]).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::guard::SessionCtx;
use super::html::{esc, table};
use super::AdminState;
use crate::api::tokens::{self, Role};

/// The token page's routes (merged next to the other pages').
pub(crate) fn router(state: Arc<AdminState>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/tokens", get(page))
        .route("/tokens/create", post(create))
        .route("/tokens/revoke", post(revoke))
        .with_state(state)
}

/// The make and revoke forms (the guard has checked `csrf`).
#[derive(Debug, Deserialize)]
pub(crate) struct TokenForm {
    name: String,
    #[serde(default)]
    role: Option<String>,
}

fn body(st: &AdminState, csrf: &str, shown: &str) -> String {
    let list = tokens::list(&st.state_dir);
    let rows: Vec<Vec<String>> = list
        .as_ref()
        .map(|l| {
            l.iter()
                .map(|t| {
                    vec![
                        format!("<code>{}</code>", esc(&t.name)),
                        t.role.as_str().to_string(),
                        crate::api::text::duration(now().saturating_sub(t.created)) + " ago",
                        format!(
                            "<form method=\"post\" action=\"/tokens/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"name\" value=\"{}\"><button class=\"small danger\" type=\"submit\">Revoke</button></form>",
                            esc(csrf),
                            esc(&t.name)
                        ),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let error = match &list {
        Err(e) => format!("<div class=\"alert bad\">{}</div>", esc(&e.to_string())),
        Ok(_) => String::new(),
    };
    format!(
        "<h1>API tokens</h1>{shown}{error}<p class=\"muted\">For scripts and CI: <code>Authorization: Bearer TOKEN</code> on <code>/api/v1</code>. A read token cannot change anything. Also <code>parvis token create NAME --role read|write</code>.</p>{}<h2>New token</h2><form method=\"post\" action=\"/tokens/create\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input name=\"name\" id=\"token-name\" placeholder=\"name\" required maxlength=\"64\" pattern=\"[A-Za-z0-9._-]+\"><select name=\"role\" id=\"token-role\"><option value=\"read\">read</option><option value=\"write\">write</option></select><button type=\"submit\">Create</button></form>",
        table("tokens", &["Name", "Role", "Made", ""], &rows, "no tokens"),
        esc(csrf)
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `GET /tokens`.
pub(crate) async fn page(
    State(st): State<Arc<AdminState>>,
    Extension(ctx): Extension<SessionCtx>,
) -> Html<String> {
    let b = body(&st, &ctx.csrf, "");
    super::pages::layout(&st, &ctx, "tokens", &b)
}

/// `POST /tokens/create`: the answer shows the new token once.
pub(crate) async fn create(
    State(st): State<Arc<AdminState>>,
    Extension(ctx): Extension<SessionCtx>,
    Form(f): Form<TokenForm>,
) -> Response {
    let made = Role::parse(f.role.as_deref().unwrap_or("read"))
        .and_then(|role| tokens::create(&st.state_dir, f.name.trim(), role, now()));
    let (status, shown) = match made {
        Ok(token) => (
            StatusCode::OK,
            format!(
                "<div class=\"alert ok\">Token <code>{}</code> made. Copy it now: it is not shown again.<br><code id=\"new-token\">{}</code></div>",
                esc(f.name.trim()),
                esc(&token)
            ),
        ),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            format!("<div class=\"alert bad\">{}</div>", esc(&e.to_string())),
        ),
    };
    if status == StatusCode::OK {
        st.control
            .note("token", format!("token {} made in the UI", f.name.trim()));
    }
    let b = body(&st, &ctx.csrf, &shown);
    (status, super::pages::layout(&st, &ctx, "tokens", &b)).into_response()
}

/// `POST /tokens/revoke`.
pub(crate) async fn revoke(
    State(st): State<Arc<AdminState>>,
    Extension(ctx): Extension<SessionCtx>,
    Form(f): Form<TokenForm>,
) -> Response {
    match tokens::revoke(&st.state_dir, &f.name) {
        Ok(()) => {
            st.control
                .note("token", format!("token {} revoked in the UI", f.name));
            Redirect::to("/tokens").into_response()
        }
        Err(e) => {
            let shown = format!("<div class=\"alert bad\">{}</div>", esc(&e.to_string()));
            let b = body(&st, &ctx.csrf, &shown);
            (
                StatusCode::BAD_REQUEST,
                super::pages::layout(&st, &ctx, "tokens", &b),
            )
                .into_response()
        }
    }
}
