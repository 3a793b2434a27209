//! The pair's secrets (`ha.key`, the Neutron application credential
//! secret) never leave through the admin port: the config page, its
//! download, `/api/v1/config` and the history, read with a session and
//! with a read token, show the mask; `/api/v1/export` (the control
//! socket's complete export) does not exist there. The complete export is
//! the daemon's own `Control::export`, checked to hold the secrets.
//! The real daemon core behind the HTTPS admin port (`admin_support`).

#![allow(clippy::unwrap_used)]

mod admin_support;
mod engine_support;

use admin_support::{fast_options, start, Admin};
use parvis::api::Control;

const KEY: &str = "pair-key-never-shown-0123456789abcdef";
const CRED: &str = "credential-never-shown-s3cret";

/// The engine's config with a pair in the "neutron" mode (the node
/// addresses are not this host's: the daemon runs it as a plain node).
fn with_pair(text: &str) -> String {
    format!(
        "{text}\n[ha]\nvrid = 51\nvip_public = \"192.168.10.4/24\"\nvip_internal = \"10.0.0.1/24\"\n\
         key = \"{KEY}\"\nmode = \"neutron\"\n\
         [[ha.node]]\nname = \"a\"\naddress = \"10.0.0.2\"\npriority = 200\n\
         [[ha.node]]\nname = \"b\"\naddress = \"10.0.0.3\"\npriority = 100\n\
         [ha.neutron]\nauth_url = \"https://keystone.example:5000/v3/\"\n\
         application_credential_id = \"0c2f5d1e\"\napplication_credential_secret = \"{CRED}\"\n\
         floating_ip = \"5b7e0d6a-4c1f\"\nports = {{ a = \"port-a\", b = \"port-b\" }}\n"
    )
}

/// Every view of the config through the admin port, with `auth` (a cookie
/// or a bearer header): none holds a secret; the API ones show the mask.
async fn assert_masked_everywhere(a: &Admin, auth: &str, version: u64, pages: bool) {
    let mut paths = vec![
        "/api/v1/config".to_string(),
        "/api/v1/history".to_string(),
        format!("/api/v1/history/{version}"),
        format!("/api/v1/history/{version}/diff"),
    ];
    if pages {
        paths.extend(["/config".into(), "/config/export".into()]);
    }
    for path in &paths {
        let r = a.curl("GET", path, &["-H", auth]).await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert!(
            !r.body.contains(KEY) && !r.body.contains(CRED),
            "{path} shows a secret: {}",
            r.body
        );
    }
    for path in ["/api/v1/config", "/config/export"]
        .iter()
        .take(1 + usize::from(pages))
    {
        let body = a.curl("GET", path, &["-H", auth]).await.body;
        assert!(body.contains("********"), "{path} shows the mask: {body}");
    }
    let r = a.curl("GET", "/api/v1/export", &["-H", auth]).await;
    assert_eq!(r.status, 404, "no complete export on the admin port: {r:?}");
    assert!(!r.body.contains(KEY) && !r.body.contains(CRED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_leave_through_the_admin_port() {
    let a = start(fast_options()).await;
    let (cookie, csrf) = a.login().await;
    let ck = format!("cookie: {cookie}");
    let tok = format!("x-csrf-token: {csrf}");
    let text = with_pair(&a.engine.text);
    let body = serde_json::json!({ "config": text, "comment": "pair" }).to_string();
    let r = a.post_json("/api/v1/apply", (&ck, &tok), &body).await;
    assert_eq!(r.status, 200, "apply of the pair's config: {r:?}");
    let version = r.json()["version"].as_u64().expect("version");

    let export = a
        .engine
        .daemon
        .export()
        .expect("a running config to export");
    assert_eq!(
        export.text, text,
        "the complete export is the text as applied"
    );
    assert_eq!(
        export.secrets,
        ["ha.key", "ha.neutron.application_credential_secret"]
    );

    assert_masked_everywhere(&a, &ck, version, true).await;
    let token = a.create_token(&cookie, &csrf, "reader", "read").await;
    let bearer = format!("authorization: Bearer {token}");
    assert_masked_everywhere(&a, &bearer, version, false).await;

    // The redacted text, edited in the UI, checks and applies with the
    // running secrets put back; it never becomes the key.
    let shown = a.curl("GET", "/api/v1/config", &["-H", &ck]).await.json();
    let edited = shown["text"]
        .as_str()
        .expect("text")
        .replace("vrid = 51", "vrid = 52");
    let body = serde_json::json!({ "config": edited }).to_string();
    let r = a.post_json("/api/v1/check", (&ck, &tok), &body).await;
    assert_eq!(
        r.json()["ok"],
        true,
        "the UI's check of an edited view: {r:?}"
    );
    let r = a.post_json("/api/v1/apply", (&ck, &tok), &body).await;
    assert_eq!(r.status, 200, "{r:?}");
    let export = a.engine.daemon.export().expect("export");
    assert!(
        export.text.contains("vrid = 52")
            && export.text.contains(KEY)
            && export.text.contains(CRED),
        "{}",
        export.text
    );
}
