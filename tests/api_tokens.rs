//! API tokens against the real daemon in the lab: made with the CLI, used
//! from the "internet" client as `Authorization: Bearer` over HTTPS; a read
//! token reads and is refused a change, a write token changes without a
//! CSRF token, a revoked token is refused, a cookie and a token together
//! are refused, and each use is in the event log under the token's name.
//! Root, namespaces, the real `parvis serve`.

mod e2e_support;

use e2e_support::*;
use parvis::lab::FLOATING_IP;

/// `parvis token ARGS --config C`; the output's last line.
fn token_cli(lab: &Lab, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(parvis_exe())
        .arg("token")
        .args(args)
        .arg("--config")
        .arg(&lab.daemon.config)
        .output()
        .expect("run parvis token");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.success(), format!("{text}{err}"))
}

/// HTTP status and body of a request from the client namespace.
fn call(lab: &Lab, method: &str, path: &str, extra: &[&str]) -> (String, String) {
    let url = format!("https://{FLOATING_IP}:8443{path}");
    let mut args = vec!["-k", "-X", method, "-w", "\n%{http_code}"];
    args.extend_from_slice(extra);
    args.push(&url);
    let out = lab.client_curl_raw(&args);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.to_string(), body.to_string())
}

#[test]
fn tokens_read_write_revoke_and_never_mix_with_cookies() {
    let lab = lab();
    let (ok, out) = token_cli(&lab, &["create", "ci-read", "--role", "read"]);
    assert!(ok, "{out}");
    let read = out
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(read.starts_with("pvt_") && read.len() == 68, "{out}");
    let (ok, out) = token_cli(&lab, &["create", "gitops", "--role", "write"]);
    assert!(ok, "{out}");
    let write = out
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let (ok, out) = token_cli(&lab, &["create", "gitops", "--role", "write"]);
    assert!(!ok && out.contains("exists"), "a name is used once: {out}");
    let (_, listed) = token_cli(&lab, &["list"]);
    assert!(
        listed.contains("ci-read") && listed.contains("gitops") && !listed.contains(&read),
        "{listed}"
    );
    let bearer_r = format!("Authorization: Bearer {read}");
    let bearer_w = format!("Authorization: Bearer {write}");
    let json = "Content-Type: application/json";
    let ban = r#"{"addr":"203.0.113.77","secs":60}"#;

    let (code, body) = call(&lab, "GET", "/api/v1/status", &["-H", &bearer_r]);
    assert_eq!(code, "200", "read token reads: {body}");
    assert!(body.contains("lab-edge"), "{body}");
    let (code, body) = call(
        &lab,
        "POST",
        "/api/v1/bans",
        &["-H", &bearer_r, "-H", json, "-d", ban],
    );
    assert_eq!(code, "403", "read token cannot change: {body}");
    // A write token needs no CSRF token.
    let (code, body) = call(
        &lab,
        "POST",
        "/api/v1/bans",
        &["-H", &bearer_w, "-H", json, "-d", ban],
    );
    assert!(code.starts_with('2'), "write token bans: {code} {body}");
    let (_, bans) = call(&lab, "GET", "/api/v1/bans", &["-H", &bearer_r]);
    assert!(bans.contains("203.0.113.77"), "{bans}");
    // The pages and the login are not for tokens.
    let (code, _) = call(&lab, "GET", "/", &["-H", &bearer_w]);
    assert_eq!(code, "401");

    // Cookies and tokens never mix, even a valid session with a valid token.
    let (jar, _) = lab.login("jar");
    let (code, body) = call(
        &lab,
        "GET",
        "/api/v1/status",
        &["-b", &jar, "-H", &bearer_r],
    );
    assert_eq!(code, "400", "cookie + token: {body}");

    let (ok, out) = token_cli(&lab, &["revoke", "ci-read"]);
    assert!(ok, "{out}");
    let (code, body) = call(&lab, "GET", "/api/v1/status", &["-H", &bearer_r]);
    assert_eq!(code, "401", "revoked: {body}");
    let (code, _) = call(
        &lab,
        "GET",
        "/api/v1/status",
        &["-H", "Authorization: Bearer pvt_nope"],
    );
    assert_eq!(code, "401");

    let (code, events) = call(&lab, "GET", "/api/v1/events", &["-H", &bearer_w]);
    assert_eq!(code, "200");
    assert!(
        events.contains("token ci-read (read): GET /api/v1/status")
            && events.contains("token ci-read (read): POST /api/v1/bans")
            && events.contains("refused: read token")
            && events.contains("token gitops (write): POST /api/v1/bans"),
        "each use is logged by name: {events}"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(lab.dir.join("state").join("api.tokens"))
            .expect("token file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}
