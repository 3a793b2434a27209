//! Headless Chromium drives the admin UI (tests/browser/run.mjs, Playwright
//! over Debian's `chromium`) against the HTTPS admin port with the fake
//! daemon: login, dashboard, config check/apply/confirm, a live connection,
//! bans, logout. Screenshots land in `target/screenshots/`.
//! Needs `apt-get install -y chromium` and `npm install` in tests/browser.
#![allow(clippy::unwrap_used)]

mod admin_support;
mod fake_daemon;

use std::path::Path;

use parvis::api::{Control, VersionState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_works_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/run.mjs");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "needs Debian's chromium: apt-get install -y chromium"
    );
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .exists(),
        "needs playwright-core: (cd tests/browser && npm install)"
    );
    let a = admin_support::start(parvis::admin::AdminOptions::default()).await;
    let demo = a.fake.start_demo_listener().await;
    let shots = root.join("target/screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(240),
        tokio::process::Command::new("node")
            .arg(&script)
            .env("PARVIS_URL", a.url(""))
            .env("PARVIS_PASSWORD", admin_support::PASSWORD)
            .env("PARVIS_CONNECT", demo.to_string())
            .env("PARVIS_EXPECT_NAME", "edge-test")
            .env("PARVIS_SCREENSHOTS", &shots)
            .output(),
    )
    .await
    .expect("the browser test took over 4 minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{stderr}"
    );
    // What the browser did reached the daemon.
    let h = a.fake.history();
    let last = h.last().unwrap();
    assert_eq!(
        (last.version, last.state),
        (2, VersionState::Running),
        "{h:?}"
    );
    assert_eq!(last.comment, "browser test: add a route");
    assert!(a.fake.config_text().contains("added.example.org"));
    assert!(a
        .fake
        .ban_calls
        .lock()
        .unwrap()
        .iter()
        .any(|(ip, secs)| ip.to_string() == "203.0.113.77" && *secs == 300));
    for name in [
        "01-login",
        "02-dashboard",
        "04-config-error",
        "05-config-pending",
        "07-connections",
    ] {
        let p = shots.join(format!("{name}.png"));
        assert!(
            std::fs::metadata(&p)
                .map(|m| m.len() > 10_000)
                .unwrap_or(false),
            "{}",
            p.display()
        );
    }
}
