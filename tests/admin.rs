//! The admin port over real HTTPS (curl verifying the generated
//! certificate): login, session cookie, refusal without a session on every
//! route, CSRF, logout, body limit, throttling and banning, expiry, input
//! validation, pages, metrics.
#![allow(clippy::unwrap_used)]

mod admin_support;
mod fake_daemon;

use std::time::{Duration, Instant};

use admin_support::{fast_options, start, PASSWORD};
use parvis::api::Control;

const JSON: &str = "content-type: application/json";

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
    assert_eq!(s.json()["name"], "edge-test");
    assert_eq!(s.json()["interfaces"][0]["name"], "ens3");
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
    assert!(a.fake.ban_calls.lock().unwrap().is_empty());
    assert_eq!(a.fake.history().len(), 1, "nothing applied");
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
        serde_json::to_string(fake_daemon::INITIAL).unwrap()
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
    assert!(a.fake.ban_calls.lock().unwrap().is_empty(), "no ban made");
    assert_eq!(a.fake.history().len(), 1, "nothing applied");
    assert_eq!(
        a.curl("GET", "/api/v1/status", &["-H", &ck]).await.status,
        200,
        "still logged in"
    );
    // With the token, the same calls work.
    let tok = format!("x-csrf-token: {csrf}");
    let r = a
        .curl(
            "POST",
            "/api/v1/bans",
            &["-H", &ck, "-H", &tok, "-H", JSON, "--data", ban],
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let form = format!("addr=203.0.113.10&minutes=5&csrf={csrf}");
    let r = a
        .curl("POST", "/bans/add", &["-H", &ck, "--data", &form])
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    let calls = a.fake.ban_calls.lock().unwrap().clone();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused() {
    let a = start(fast_options()).await;
    let (cookie, csrf) = a.login().await;
    let big = a.dir.path().join("big.json");
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
    assert_eq!(a.fake.history().len(), 1);
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
    let calls = a.fake.ban_calls.lock().unwrap().clone();
    assert_eq!(calls, vec![("127.0.0.1".parse().unwrap(), 600)]);
    // Now even the right password is refused from that source.
    let good = format!(r#"{{"username":"admin","password":"{PASSWORD}"}}"#);
    let r = a
        .curl("POST", "/api/v1/session", &["-H", JSON, "--data", &good])
        .await;
    assert_eq!(r.status, 429, "{r:?}");
    assert!(a
        .fake
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
async fn inputs_are_checked_with_the_field_named() {
    let a = start(fast_options()).await;
    let (cookie, csrf) = a.login().await;
    let ck = format!("cookie: {cookie}");
    let tok = format!("x-csrf-token: {csrf}");
    let post = |path: &'static str, body: String| {
        let (ck, tok) = (ck.clone(), tok.clone());
        let a = &a;
        async move {
            a.curl(
                "POST",
                path,
                &["-H", &ck, "-H", &tok, "-H", JSON, "--data", &body],
            )
            .await
        }
    };
    let cases = [
        (
            "/api/v1/bans",
            r#"{"addr":"not-an-ip","secs":60}"#.to_string(),
            400,
            "addr",
        ),
        (
            "/api/v1/bans",
            r#"{"addr":"192.0.2.1","secs":0}"#.to_string(),
            400,
            "secs",
        ),
        (
            "/api/v1/bans",
            r#"{"addr":"192.0.2.1"}"#.to_string(),
            422,
            "secs",
        ),
        (
            "/api/v1/apply",
            r#"{"comment":"x"}"#.to_string(),
            422,
            "config",
        ),
        (
            "/api/v1/apply",
            r#"{"config":"[[listener]]\nname = 1\n"}"#.to_string(),
            422,
            "config",
        ),
        (
            "/api/v1/apply",
            format!(
                r#"{{"config":{},"confirm_within_secs":0}}"#,
                serde_json::to_string(fake_daemon::INITIAL).unwrap()
            ),
            400,
            "confirm_within_secs",
        ),
        (
            "/api/v1/rollback",
            r#"{"version":0}"#.to_string(),
            400,
            "version",
        ),
        ("/api/v1/check", "not json".to_string(), 400, "JSON"),
    ];
    for (path, body, status, field) in cases {
        let r = post(path, body.clone()).await;
        assert_eq!(r.status, status, "{path} {body}: {r:?}");
        let j = r.json();
        let named = j["error"].as_str().unwrap().contains(field) || j["field"] == field;
        assert!(named, "{path} {body}: {}", r.body);
    }
    let r = post(
        "/api/v1/check",
        r#"{"config":"[[listener]]\nname = \"a\"\nbind = \"nope\"\nprotocol = \"tls\"\n"}"#.into(),
    )
    .await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["problems"][0]["line"], 3, "{j}");
    assert!(a.fake.ban_calls.lock().unwrap().is_empty());
    assert_eq!(a.fake.history().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_confirm_and_rollback_through_the_api() {
    let a = start(fast_options()).await;
    let (cookie, csrf) = a.login().await;
    let ck = format!("cookie: {cookie}");
    let tok = format!("x-csrf-token: {csrf}");
    let new = fake_daemon::INITIAL.replace("paroisse-a.example.org", "paroisse-b.example.org");
    let body = serde_json::json!({"config": new, "comment": "rename", "confirm_within_secs": 60})
        .to_string();
    let r = a
        .curl(
            "POST",
            "/api/v1/apply",
            &["-H", &ck, "-H", &tok, "-H", JSON, "--data", &body],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["version"], 2);
    assert_eq!(r.json()["pending_deadline_secs"], 60);
    let s = a.curl("GET", "/api/v1/status", &["-H", &ck]).await.json();
    assert_eq!(s["pending"]["version"], 2);
    let h = a.fake.history();
    assert_eq!(
        h[1].author, "ui 127.0.0.1",
        "the author is the UI and its source"
    );
    let r = a
        .curl("POST", "/api/v1/confirm", &["-H", &ck, "-H", &tok])
        .await;
    assert_eq!((r.status, r.json()["version"].as_u64()), (200, Some(2)));
    let d = a
        .curl("GET", "/api/v1/history/2/diff", &["-H", &ck])
        .await
        .json();
    let diff = d["diff"].as_str().unwrap();
    assert!(
        diff.contains("-hosts = [\"paroisse-a") && diff.contains("+hosts = [\"paroisse-b"),
        "{diff}"
    );
    let r = a
        .curl(
            "POST",
            "/api/v1/rollback",
            &[
                "-H",
                &ck,
                "-H",
                &tok,
                "-H",
                JSON,
                "--data",
                r#"{"version":1}"#,
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(a.fake.config_text().contains("paroisse-a.example.org"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_with_security_headers_and_no_secret() {
    let a = start(fast_options()).await;
    let (cookie, csrf) = a.login().await;
    let ck = format!("cookie: {cookie}");
    let expect = [
        ("/", "ens3"),
        ("/routes", "paroisse-a.example.org"),
        ("/access", "10.0.0.20:22"),
        ("/connections", "conn-filter"),
        ("/firewall", "listener https"),
        ("/config", "id=\"editor\""),
        ("/log", "version 1 applied"),
    ];
    for (p, text) in expect {
        let r = a.curl("GET", p, &["-H", &ck]).await;
        assert_eq!(r.status, 200, "{p}");
        assert!(r.body.contains(text), "{p} lacks {text}");
        assert!(
            r.body.contains(&format!("name=\"csrf\" value=\"{csrf}\"")),
            "{p}: logout form has the token"
        );
        assert!(
            !r.body.contains("$argon2id$") && !r.body.contains("PRIVATE KEY"),
            "{p} shows a secret"
        );
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'"), "{p}: {csp}");
        assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
    }
    // The login form carries its own token, bound to a cookie.
    let r = a.curl("GET", "/login", &[]).await;
    assert!(r.body.contains("name=\"csrf\""));
    assert!(r.header("set-cookie").unwrap().contains("parvis_login="));
    // The form login without that cookie is refused.
    let r = a
        .curl(
            "POST",
            "/login",
            &[
                "--data",
                &format!(
                    "username=admin&password={}&csrf=abc",
                    PASSWORD.replace(' ', "+")
                ),
            ],
        )
        .await;
    assert_eq!(
        r.header("location").as_deref(),
        Some("/login?error=expired")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_prometheus_text() {
    let fake = fake_daemon::Fake::new();
    fake.ban_add("192.0.2.7".parse().unwrap(), 60).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(parvis::admin::serve_metrics_on(l, fake, async {
        let _ = rx.await;
    }));
    let out = tokio::process::Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "parvis_backend_up{backend=\"ingress-https\",server=\"10.0.0.11:443\"} 1",
        "parvis_backend_up{backend=\"ingress-https\",server=\"10.0.0.12:443\"} 0",
        "parvis_bans 1",
        "parvis_rule_packets_total{chain=\"input\",rule=\"listener https\"} 1200",
        "parvis_listener_active_connections{listener=\"https\"} 0",
        "# TYPE parvis_backend_up gauge",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = parvis::admin::serve(
        addr,
        parvis::admin::TlsSource::SelfSigned,
        dir.path(),
        fake_daemon::Fake::new(),
        async {},
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}
