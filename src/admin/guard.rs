//! The admin port's gate: every request but the login page, `POST
//! /api/v1/session` and static assets needs a live session; every
//! state-changing request needs its CSRF token (header or form field).
//! Also the security headers on every answer. No I/O.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::auth;
use super::AdminState;
use crate::api::{ApiError, Author, AuthorKind};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "parvis_session";
/// The CSRF header.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session a request carries, for handlers (pages embed the token).
#[derive(Debug, Clone)]
pub struct SessionCtx {
    /// The cookie value.
    pub id: String,
    /// The session's CSRF token.
    pub csrf: String,
}

fn is_public(method: &Method, path: &str) -> bool {
    (path == "/login" && (method == Method::GET || method == Method::POST))
        || (path == "/api/v1/session" && method == Method::POST)
        || (path.starts_with("/static/") && method == Method::GET)
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A cookie's value from the `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The refusal for a request without a session.
pub fn refuse_unauthenticated(path: &str) -> Response {
    if path.starts_with("/api/") {
        ApiError::new(401, "not logged in").into_response()
    } else {
        Redirect::to("/login").into_response()
    }
}

/// The middleware.
pub(crate) async fn guard(State(st): State<Arc<AdminState>>, req: Request, next: Next) -> Response {
    let too_big = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > st.options.body_limit);
    if too_big {
        return ApiError::new(413, "request body too large").into_response();
    }
    if let Some(token) = super::bearer::presented(&req) {
        return super::bearer::serve(st, token, req, next).await;
    }
    let path = req.uri().path().to_string();
    if is_public(req.method(), &path) {
        return next.run(req).await;
    }
    let session = cookie(req.headers(), SESSION_COOKIE).and_then(|id| {
        let mut sessions = st.sessions.lock().ok()?;
        let s = sessions.touch(
            &id,
            Instant::now(),
            st.options.session_idle,
            st.options.session_max,
        )?;
        Some((id, s))
    });
    let Some((id, session)) = session else {
        return refuse_unauthenticated(&path);
    };
    let mut req = if changes_state(req.method()) {
        match check_csrf(req, &session.csrf, st.options.body_limit).await {
            Ok(r) => r,
            Err(resp) => return resp,
        }
    } else {
        req
    };
    let source = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    req.extensions_mut().insert(Author {
        kind: AuthorKind::Ui,
        source_addr: source.or(Some(session.source)),
    });
    req.extensions_mut().insert(SessionCtx {
        id,
        csrf: session.csrf,
    });
    next.run(req).await
}

/// Passes the request on when its token matches (header, or the `csrf`
/// field of a form body, which is buffered and put back).
async fn check_csrf(req: Request, csrf: &str, limit: usize) -> Result<Request, Response> {
    let refuse =
        || ApiError::new(403, "missing or wrong CSRF token (X-CSRF-Token)").into_response();
    if let Some(v) = req.headers().get(CSRF_HEADER) {
        return match v.to_str() {
            Ok(v) if auth::same(v, csrf) => Ok(req),
            _ => Err(refuse()),
        };
    }
    let is_form = req.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes()
            .starts_with(b"application/x-www-form-urlencoded")
    });
    if !is_form {
        return Err(refuse());
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::new(413, "request body too large").into_response())?;
    let field = form_field(&bytes, "csrf");
    match field {
        Some(v) if auth::same(&v, csrf) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(refuse()),
    }
}

/// One field of an `application/x-www-form-urlencoded` body (tokens are
/// hex, so no percent-decoding is needed for them).
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Headers on every answer: no framing, no sniffing, no caching, no
/// foreign scripts, HTTPS only.
pub async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "strict-transport-security", "max-age=31536000");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    resp
}
