//! Requests that carry `Authorization: Bearer TOKEN`: only under
//! `/api/v1`, never together with a cookie, read tokens only `GET`/`HEAD`;
//! no CSRF (a script holds no ambient credential a page could borrow).
//! Each use goes to the event log with the token's name. Does I/O (reads
//! the token file through [`super::tokens`]).

use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AdminState;
use crate::api::tokens::{self, Role};
use crate::api::{ApiError, Author, AuthorKind};

/// The bearer token of a request, or `None` without an `Authorization`
/// header; `Some(Err)` for an `Authorization` that is not a bearer token.
pub fn presented(req: &Request) -> Option<Result<String, ApiError>> {
    let v = req.headers().get(header::AUTHORIZATION)?;
    let bad = || ApiError::new(401, "Authorization: expected `Bearer TOKEN`");
    let token = v
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    Some(token.map(str::to_string).ok_or_else(bad))
}

/// Serves a request that presented a bearer token.
pub(crate) async fn serve(
    st: Arc<AdminState>,
    token: Result<String, ApiError>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = match token {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    if req.headers().contains_key(header::COOKIE) {
        return ApiError::new(
            400,
            "a request carries a cookie or a bearer token, not both",
        )
        .into_response();
    }
    let path = req.uri().path().to_string();
    if !path.starts_with("/api/v1/") || path == "/api/v1/session" {
        return ApiError::new(
            401,
            "API tokens are for /api/v1 (not the pages or the login)",
        )
        .into_response();
    }
    let dir = st.state_dir.clone();
    let found = tokio::task::spawn_blocking(move || tokens::verify(&dir, &token)).await;
    let entry = match found {
        Ok(Ok(Some(e))) => e,
        Ok(Ok(None)) => return ApiError::new(401, "unknown or revoked token").into_response(),
        Ok(Err(e)) => return ApiError::internal(e.to_string()).into_response(),
        Err(e) => return ApiError::internal(e.to_string()).into_response(),
    };
    let source = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let method = req.method().clone();
    let read_only = matches!(method, Method::GET | Method::HEAD);
    let allowed = read_only || entry.role == Role::Write;
    let from = source.map(|s| format!(" from {s}")).unwrap_or_default();
    let verdict = if allowed {
        ""
    } else {
        " (refused: read token)"
    };
    let line = format!(
        "token {} ({}): {method} {path}{from}{verdict}",
        entry.name,
        entry.role.as_str()
    );
    tracing::info!(token = %entry.name, role = entry.role.as_str(), %method, %path, allowed, "API token used");
    st.control.note("token", line);
    if !allowed {
        return ApiError::new(403, "a read token cannot change anything").into_response();
    }
    req.extensions_mut().insert(Author {
        kind: AuthorKind::Ui,
        source_addr: source,
    });
    next.run(req).await
}
