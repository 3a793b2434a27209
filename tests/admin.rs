//! The admin port over real HTTPS (curl verifying the generated
//! certificate): login, session cookie, refusal without a session on every
//! route, CSRF, logout, body limit, throttling and banning, expiry, input
//! validation, pages, metrics.
#![allow(clippy::unwrap_used)]

mod admin_support;
mod engine_support;

use std::time::{Duration, Instant};

use admin_support::{fast_options, start, JSON, PASSWORD};
use parvis::api::Control;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_strict_cookie_and_gives_a_csrf_token() {
    let a = start(fast_options()).await;
    let body = format!(r#"{{"username":"admin","password":"{PASSWORD}"}}"#);
    let r = a
        .curl("POST", "/api/v1/session", &["-H", JSON, "--data", &body])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let cookie = r.header("set-cookie").unwrap();
    for flag in [
        "parvis_session=",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(cookie.contains(flag), "cookie {cookie:?} lacks {flag}");
    }
    let csrf = r.json()["csrf"].as_str().unwrap().to_string();
    assert_eq!(csrf.len(), 64);
    let c = cookie.split(';').next().unwrap();
    let s = a
        .curl("GET", "/api/v1/status", &["-H", &format!("cookie: {c}")])
        .await;
    assert_eq!(s.status, 200);
    assert_eq!(s.json()["name"], engine_support::NAME);
    assert_eq!(s.json()["listeners"][0]["name"], "https");
    // The fingerprint the server reports is the one of the file curl trusted.
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&a.cert)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&a.fingerprint), "{text} vs {}", a.fingerprint);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_get_401_and_no_cookie() {
    let a = start(fast_options()).await;
    for body in [
        r#"{"username":"admin","password":"wrong password"}"#.to_string(),
        format!(r#"{{"username":"root","password":"{PASSWORD}"}}"#),
    ] {
        let r = a
            .curl("POST", "/api/v1/session", &["-H", JSON, "--data", &body])
            .await;
        assert_eq!(r.status, 401, "{r:?}");
        assert!(r.header("set-cookie").is_none());
        assert!(!r.body.contains("argon2"), "no secret in {}", r.body);
    }
    let r = a
        .curl(
            "POST",
            "/api/v1/session",
            &["-H", JSON, "--data", r#"{"username":"admin"}"#],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.json()["error"].as_str().unwrap().contains("password"),
        "{}",
        r.body
    );
}

/// Every API route and page, by method.
const API_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/status"),
    ("GET", "/api/v1/routes"),
    ("GET", "/api/v1/backends"),
    ("GET", "/api/v1/connections"),
    ("GET", "/api/v1/series"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/history"),
    ("GET", "/api/v1/history/1"),
    ("GET", "/api/v1/history/1/diff"),
    ("GET", "/api/v1/config"),
    ("POST", "/api/v1/diff"),
    ("POST", "/api/v1/check"),
    ("POST", "/api/v1/apply"),
    ("POST", "/api/v1/confirm"),
    ("POST", "/api/v1/rollback"),
    ("GET", "/api/v1/ruleset"),
    ("GET", "/api/v1/bans"),
    ("POST", "/api/v1/bans"),
    ("DELETE", "/api/v1/bans/192.0.2.1"),
    ("DELETE", "/api/v1/session"),
    ("GET", "/api/v1/no-such-route"),
];
const PAGES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/routes"),
    ("GET", "/access"),
    ("GET", "/connections"),
    ("GET", "/firewall"),
    ("GET", "/config"),
    ("GET", "/config/export"),
    ("GET", "/log"),
    ("POST", "/logout"),
    ("POST", "/bans/add"),
    ("POST", "/bans/delete"),
    ("GET", "/no-such-page"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_without_a_session() {
    let a = start(fast_options()).await;
    let apply = r#"{"config":"x"}"#;
    for cookie in [None, Some("cookie: parvis_session=0123456789abcdef")] {
        for (m, p) in API_ROUTES {
            let mut args = vec!["-H", JSON, "--data", apply];
            if let Some(c) = cookie {
                args.extend(["-H", c]);
            }
            if *m == "GET" {
                args.drain(0..4);
            }
            let r = a.curl(m, p, &args).await;
            assert_eq!(r.status, 401, "{m} {p} with {cookie:?}: {r:?}");
            assert_eq!(r.json()["error"], "not logged in", "{m} {p}");
        }
        for (m, p) in PAGES {
            let mut args = vec![];
            if let Some(c) = cookie {
                args.extend(["-H", c]);
            }
            let r = a.curl(m, p, &args).await;
            assert_eq!(r.status, 303, "{m} {p}: {r:?}");
            assert_eq!(r.header("location").as_deref(), Some("/login"), "{m} {p}");
        }
    }
    assert!(a.engine.firewall.ban_calls().is_empty());
    assert_eq!(a.engine.daemon.history().len(), 1, "nothing applied");
    // The login page and static files are open.
    for p in ["/login", "/static/style.css", "/static/app.js"] {
        assert_eq!(a.curl("GET", p, &[]).await.status, 200, "{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_csrf_token_nothing_changes() {
    let a = start(fast_options()).await;
    let (cookie, csrf) = a.login().await;
    let ck = format!("cookie: {cookie}");
    let ban = r#"{"addr":"203.0.113.9","secs":60}"#;
    let apply = format!(
        r#"{{"config":{}}}"#,
        serde_json::to_string(&a.engine.text).unwrap()
    );
    for token in [None, Some("x-csrf-token: deadbeef")] {
        let mut base = vec!["-H", ck.as_str(), "-H", JSON];
        if let Some(t) = token {
            base.extend(["-H", t]);
        }
        let with = |extra: &[&'static str]| [base.clone(), extra.to_vec()].concat();
        assert_eq!(
            a.curl("POST", "/api/v1/bans", &with(&["--data", ban]))
                .await
                .status,
            403
        );
        let r = a
            .curl(
                "POST",
                "/api/v1/apply",
                &[base.clone(), vec!["--data", &apply]].concat(),
            )
            .await;
        assert_eq!(r.status, 403, "{r:?}");
        assert_eq!(a.curl("POST", "/api/v1/confirm", &base).await.status, 403);
        assert_eq!(a.curl("POST", "/api/v1/rollback", &base).await.status, 403);
        assert_eq!(a.curl("DELETE", "/api/v1/session", &base).await.status, 403);
    }
    // Forms: without the field, with a wrong one.
    for form in [
        "addr=203.0.113.9&minutes=5",
        "addr=203.0.113.9&minutes=5&csrf=00ff",
    ] {
        let r = a
            .curl("POST", "/bans/add", &["-H", &ck, "--data", form])
            .await;
        assert_eq!(r.status, 403, "{form}");
    }
    assert!(a.engine.firewall.ban_calls().is_empty(), "no ban made");
    assert_eq!(a.engine.daemon.history().len(), 1, "nothing applied");
    assert_eq!(
        a.curl("GET", "/api/v1/status", &["-H", &ck]).await.status,
        200,
        "still logged in"
    );
    // With the token, the same calls work.
    let tok = format!("x-csrf-token: {csrf}");
    let r = a.post_json("/api/v1/bans", (&ck, &tok), ban).await;
    assert_eq!(r.status, 201, "{r:?}");
    let form = format!("addr=203.0.113.10&minutes=5&csrf={csrf}");
    let r = a
        .curl("POST", "/bans/add", &["-H", &ck, "--data", &form])
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    let calls = a.engine.firewall.ban_calls();
    assert_eq!(
        calls,
        vec![
            ("203.0.113.9".parse().unwrap(), 60),
            ("203.0.113.10".parse().unwrap(), 300)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session() {
    let a = start(fast_options()).await;
    let (cookie, csrf) = a.login().await;
    let ck = format!("cookie: {cookie}");
    let tok = format!("x-csrf-token: {csrf}");
    let r = a
        .curl("DELETE", "/api/v1/session", &["-H", &ck, "-H", &tok])
        .await;
    assert_eq!(r.status, 204);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(
        a.curl("GET", "/api/v1/status", &["-H", &ck]).await.status,
        401
    );
    // The form logout too.
    let (cookie, csrf) = a.login().await;
    let ck = format!("cookie: {cookie}");
    let r = a
        .curl(
            "POST",
            "/logout",
            &["-H", &ck, "--data", &format!("csrf={csrf}")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(a.curl("GET", "/", &["-H", &ck]).await.status, 303);
}

/// The history page's download: the running config's text as a file, the
/// same text `/api/v1/config` (and `parvis export`) gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_config_downloads_as_a_file() {
    let a = start(fast_options()).await;
    let (cookie, _) = a.login().await;
    let ck = format!("cookie: {cookie}");
    let page = a.curl("GET", "/config", &["-H", &ck]).await;
    assert!(
        page.body.contains("href=\"/config/export\""),
        "{}",
        page.body
    );
    let r = a.curl("GET", "/config/export", &["-H", &ck]).await;
    assert_eq!(r.status, 200);
    let disposition = r.header("content-disposition").unwrap_or_default();
    assert!(
        disposition.starts_with("attachment; filename="),
        "{disposition}"
    );
    let api = a.curl("GET", "/api/v1/config", &["-H", &ck]).await.json();
    assert_eq!(Some(r.body.as_str()), api["text"].as_str());
    assert!(!r.body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused() {
    let a = start(fast_options()).await;
    let (cookie, csrf) = a.login().await;
    let big = a.dir().join("big.json");
    let text = "#".repeat(2 << 20);
    std::fs::write(&big, format!(r#"{{"config":"{text}"}}"#)).unwrap();
    let at = format!("@{}", big.display());
    let ck = format!("cookie: {cookie}");
    let tok = format!("x-csrf-token: {csrf}");
    for path in ["/api/v1/check", "/api/v1/apply", "/api/v1/session"] {
        let r = a
            .curl(
                "POST",
                path,
                &["-H", &ck, "-H", &tok, "-H", JSON, "--data-binary", &at],
            )
            .await;
        assert_eq!(r.status, 413, "{path}: {r:?}");
    }
    // Chunked (no Content-Length): the extractor's limit.
    let r = a
        .curl(
            "POST",
            "/api/v1/check",
            &[
                "-H",
                &ck,
                "-H",
                &tok,
                "-H",
                JSON,
                "-H",
                "transfer-encoding: chunked",
                "-H",
                "expect:",
                "--data-binary",
                &at,
            ],
        )
        .await;
    assert_eq!(r.status, 413, "chunked: {r:?}");
    assert_eq!(a.engine.daemon.history().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_slowed_then_banned() {
    let a = start(fast_options()).await;
    let bad = r#"{"username":"admin","password":"guess"}"#;
    let mut last = Duration::ZERO;
    for i in 1..=4 {
        let t = Instant::now();
        let r = a
            .curl("POST", "/api/v1/session", &["-H", JSON, "--data", bad])
            .await;
        last = t.elapsed();
        assert_eq!(r.status, 401, "attempt {i}");
    }
    assert!(
        last >= Duration::from_millis(200),
        "4th failure answered in {last:?}"
    );
    let calls = a.engine.firewall.login_ban_calls();
    assert_eq!(calls, vec![("127.0.0.1".parse().unwrap(), 600)]);
    assert!(
        a.engine.firewall.ban_calls().is_empty(),
        "a login ban is not a ban of everything"
    );
    // Now even the right password is refused from that source.
    let good = format!(r#"{{"username":"admin","password":"{PASSWORD}"}}"#);
    let r = a
        .curl("POST", "/api/v1/session", &["-H", JSON, "--data", &good])
        .await;
    assert_eq!(r.status, 429, "{r:?}");
    assert!(a
        .engine
        .daemon
        .events()
        .iter()
        .any(|e| e.kind == "ban" && e.message.contains("127.0.0.1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_expires() {
    let mut o = fast_options();
    o.session_idle = Duration::from_secs(1);
    let a = start(o).await;
    let (cookie, _) = a.login().await;
    let ck = format!("cookie: {cookie}");
    assert_eq!(
        a.curl("GET", "/api/v1/status", &["-H", &ck]).await.status,
        200
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        a.curl("GET", "/api/v1/status", &["-H", &ck]).await.status,
        401
    );
    let r = a.curl("GET", "/config", &["-H", &ck]).await;
    assert_eq!(
        (r.status, r.header("location").as_deref()),
        (303, Some("/login"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_password_file_is_an_error_not_a_failed_login() {
    let a = start(fast_options()).await;
    let file = parvis::admin::auth::passwd_path(a.dir());
    let saved = std::fs::read(&file).unwrap();
    // A file the daemon cannot read as text (root reads any mode, so a
    // directory stands in for a file owned by someone else).
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let good = format!(r#"{{"username":"admin","password":"{PASSWORD}"}}"#);
    for i in 1..=6 {
        let r = a
            .curl("POST", "/api/v1/session", &["-H", JSON, "--data", &good])
            .await;
        assert_eq!(r.status, 503, "attempt {i}: {r:?}");
        assert!(r.body.contains("cannot be checked"), "{r:?}");
    }
    assert!(
        a.engine.firewall.ban_calls().is_empty(),
        "the daemon's fault must not ban the operator"
    );
    std::fs::remove_dir(&file).unwrap();
    std::fs::write(&file, saved).unwrap();
    let r = a
        .curl("POST", "/api/v1/session", &["-H", JSON, "--data", &good])
        .await;
    assert_eq!(r.status, 200, "no attempt was counted: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_from_one_source_are_refused_not_checked() {
    let mut o = fast_options();
    o.max_failures = 10;
    let a = std::sync::Arc::new(start(o).await);
    let bad = r#"{"username":"admin","password":"guess-guess"}"#;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let a = a.clone();
            tokio::spawn(async move {
                a.curl("POST", "/api/v1/session", &["-H", JSON, "--data", bad])
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, 20, "{statuses:?}");
    assert!(
        refused >= 10 && checked <= 10,
        "20 parallel guesses: {checked} checked, {refused} refused"
    );
}
