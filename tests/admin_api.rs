//! The admin port over real HTTPS, second part: input validation, apply /
//! confirm / rollback through the API, the pages and their headers,
//! broken requests, `/metrics`, bind errors.
#![allow(clippy::unwrap_used)]

mod admin_support;
mod engine_support;

use admin_support::{fast_options, start, JSON, PASSWORD};
use parvis::api::Control;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_requests_do_not_hurt_the_server() {
    let a = start(fast_options()).await;
    let connect = format!("127.0.0.1:{}", a.port);
    // Garbage inside TLS, and plain HTTP on the HTTPS port.
    let mut child = tokio::process::Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", &connect])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stdin,
        b"\x00\xffGARBAGE / HTTP/9.9\r\nHost: \x01\r\n\r\n",
    )
    .await
    .unwrap();
    drop(stdin);
    let out = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("400"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let plain = tokio::process::Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "5",
            &format!("http://127.0.0.1:{}/login", a.port),
        ])
        .output()
        .await
        .unwrap();
    assert!(!plain.status.success(), "plain HTTP gets no page");
    // Still serving.
    assert_eq!(a.curl("GET", "/login", &[]).await.status, 200);
    let (cookie, _) = a.login().await;
    assert_eq!(
        a.curl(
            "GET",
            "/api/v1/status",
            &["-H", &format!("cookie: {cookie}")]
        )
        .await
        .status,
        200
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
        async move { a.post_json(path, (&ck, &tok), &body).await }
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
                serde_json::to_string(&a.engine.text).unwrap()
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
    assert!(a.engine.firewall.ban_calls().is_empty());
    assert_eq!(a.engine.daemon.history().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_confirm_and_rollback_through_the_api() {
    let a = start(fast_options()).await;
    let (cookie, csrf) = a.login().await;
    let ck = format!("cookie: {cookie}");
    let tok = format!("x-csrf-token: {csrf}");
    let new = a
        .engine
        .text
        .replace("paroisse-a.example.org", "paroisse-b.example.org");
    let body = serde_json::json!({"config": new, "comment": "rename", "confirm_within_secs": 60})
        .to_string();
    let r = a.post_json("/api/v1/apply", (&ck, &tok), &body).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["version"], 2);
    // The time left when the answer was made (the deadline counts from the apply).
    let left = r.json()["pending_deadline_secs"].as_u64().unwrap_or(0);
    assert!((55..=60).contains(&left), "{r:?}");
    let s = a.curl("GET", "/api/v1/status", &["-H", &ck]).await.json();
    assert_eq!(s["pending"]["version"], 2);
    let h = a.engine.daemon.history();
    assert_eq!(
        h[1].author, "ui:admin 127.0.0.1",
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
    assert!(a
        .engine
        .daemon
        .config_text()
        .contains("paroisse-a.example.org"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_with_security_headers_and_no_secret() {
    let a = start(fast_options()).await;
    let (cookie, csrf) = a.login().await;
    let ck = format!("cookie: {cookie}");
    let expect = [
        ("/", engine_support::NAME),
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
    let e = engine_support::start().await;
    e.daemon.ban_add("192.0.2.7".parse().unwrap(), 60).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(parvis::admin::serve_metrics_on(
        l,
        e.daemon.clone(),
        async {
            let _ = rx.await;
        },
    ));
    let out = tokio::process::Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let up = |server, v| {
        format!("parvis_backend_up{{backend=\"ingress-https\",server=\"{server}\"}} {v}")
    };
    for line in [
        up(e.up, 1),
        up(e.down, 0),
        "parvis_bans 1".into(),
        "parvis_rule_packets_total{chain=\"input\",rule=\"listener https\"} 0".into(),
        "parvis_listener_active_connections{listener=\"https\"} 0".into(),
        "# TYPE parvis_backend_up gauge".into(),
        "# TYPE process_start_time_seconds gauge".into(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }
    promtool_accepts(&text);
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// `promtool check metrics` (Debian's prometheus package, installed by
/// `scripts/deps.sh test`) parses the exposition and lints it: both must pass.
fn promtool_accepts(text: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let e = engine_support::start().await;
    let err = parvis::admin::serve(
        addr,
        parvis::admin::TlsSource::SelfSigned,
        e.dir.path(),
        e.daemon.clone(),
        async {},
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_made_in_the_ui_are_shown_once_and_revocable() {
    let a = start(fast_options()).await;
    let (cookie, csrf) = a.login().await;
    let token = a.create_token(&cookie, &csrf, "ui-made", "read").await;
    assert!(token.starts_with("pvt_"), "{token}");
    let page = a
        .curl("GET", "/tokens", &["-H", &format!("cookie: {cookie}")])
        .await;
    assert!(
        page.body.contains("ui-made") && !page.body.contains(&token),
        "shown once"
    );
    let bearer = format!("authorization: Bearer {token}");
    assert_eq!(
        a.curl("GET", "/api/v1/status", &["-H", &bearer])
            .await
            .status,
        200
    );
    let revoke = format!("csrf={csrf}&name=ui-made");
    let r = a
        .curl(
            "POST",
            "/tokens/revoke",
            &["-H", &format!("cookie: {cookie}"), "--data", &revoke],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        a.curl("GET", "/api/v1/status", &["-H", &bearer])
            .await
            .status,
        401
    );
    // The form without the CSRF token is refused like any other.
    let r = a
        .curl(
            "POST",
            "/tokens/create",
            &["-H", &format!("cookie: {cookie}"), "--data", "name=x"],
        )
        .await;
    assert_eq!(r.status, 403);
}
