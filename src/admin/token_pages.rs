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
use super::i18n::format::ago;
use super::i18n::Lang;
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

fn body(st: &AdminState, l: Lang, csrf: &str, shown: &str) -> String {
    let list = tokens::list(&st.state_dir);
    let rows: Vec<Vec<String>> = list
        .as_ref()
        .map(|all| {
            all.iter()
                .map(|t| {
                    vec![
                        format!("<code>{}</code>", esc(&t.name)),
                        l.h(role_key(t.role)),
                        esc(&ago(l, now().saturating_sub(t.created))),
                        format!(
                            "<form method=\"post\" action=\"/tokens/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"name\" value=\"{}\"><button class=\"small danger\" type=\"submit\">{}</button></form>",
                            esc(csrf),
                            esc(&t.name),
                            l.h("tokens.revoke")
                        ),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let error = match &list {
        Err(e) => refused(l, &e.to_string()),
        Ok(_) => String::new(),
    };
    let intro = l.f(
        "tokens.intro",
        &[
            ("header", "<code>Authorization: Bearer TOKEN</code>"),
            ("api", "<code>/api/v1</code>"),
            (
                "cli",
                "<code>parvis token create NAME --role read|write</code>",
            ),
        ],
    );
    let head = [
        l.t("tokens.name"),
        l.t("tokens.role"),
        l.t("tokens.made"),
        "",
    ];
    format!(
        "<h1>{}</h1>{shown}{error}<p class=\"muted\">{intro}</p>{}<h2>{}</h2><form method=\"post\" action=\"/tokens/create\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input name=\"name\" id=\"token-name\" placeholder=\"{}\" required maxlength=\"64\" pattern=\"[A-Za-z0-9._-]+\"><select name=\"role\" id=\"token-role\"><option value=\"read\">{}</option><option value=\"write\">{}</option></select><button type=\"submit\">{}</button></form>",
        l.h("nav.tokens"),
        table("tokens", &head, &rows, l.t("tokens.none")),
        l.h("tokens.new"),
        esc(csrf),
        l.h("tokens.name_hint"),
        l.h("tokens.read"),
        l.h("tokens.write"),
        l.h("tokens.create"),
    )
}

fn role_key(role: Role) -> &'static str {
    match role {
        Role::Read => "tokens.read",
        Role::Write => "tokens.write",
    }
}

/// A refusal: the reason (English, from the token store) inside a
/// translated sentence.
fn refused(l: Lang, reason: &str) -> String {
    format!(
        "<div class=\"alert bad\">{}</div>",
        // The reason in the page's language where the catalogue knows it.
        l.f("form.refused", &[("reason", &l.message(reason))])
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
    Extension(l): Extension<Lang>,
) -> Html<String> {
    let b = body(&st, l, &ctx.csrf, "");
    super::pages::layout(&st, &ctx, l, "tokens", &b)
}

/// `POST /tokens/create`: the answer shows the new token once.
pub(crate) async fn create(
    State(st): State<Arc<AdminState>>,
    Extension(ctx): Extension<SessionCtx>,
    Extension(l): Extension<Lang>,
    Form(f): Form<TokenForm>,
) -> Response {
    let made = Role::parse(f.role.as_deref().unwrap_or("read"))
        .and_then(|role| tokens::create(&st.state_dir, f.name.trim(), role, now()));
    let (status, shown) = match made {
        Ok(token) => (
            StatusCode::OK,
            format!(
                "<div class=\"alert ok\">{}<br><code id=\"new-token\">{}</code></div>",
                l.f(
                    "tokens.made_once",
                    &[("name", &format!("<code>{}</code>", esc(f.name.trim())))]
                ),
                esc(&token)
            ),
        ),
        Err(e) => (StatusCode::BAD_REQUEST, refused(l, &e.to_string())),
    };
    if status == StatusCode::OK {
        st.control
            .note("token", format!("token {} made in the UI", f.name.trim()));
    }
    let b = body(&st, l, &ctx.csrf, &shown);
    (status, super::pages::layout(&st, &ctx, l, "tokens", &b)).into_response()
}

/// `POST /tokens/revoke`.
pub(crate) async fn revoke(
    State(st): State<Arc<AdminState>>,
    Extension(ctx): Extension<SessionCtx>,
    Extension(l): Extension<Lang>,
    Form(f): Form<TokenForm>,
) -> Response {
    match tokens::revoke(&st.state_dir, &f.name) {
        Ok(()) => {
            st.control
                .note("token", format!("token {} revoked in the UI", f.name));
            Redirect::to("/tokens").into_response()
        }
        Err(e) => {
            let b = body(&st, l, &ctx.csrf, &refused(l, &e.to_string()));
            (
                StatusCode::BAD_REQUEST,
                super::pages::layout(&st, &ctx, l, "tokens", &b),
            )
                .into_response()
        }
    }
}
