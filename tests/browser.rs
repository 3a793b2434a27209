//! Headless Chromium drives the admin UI (tests/browser/run.mjs, Playwright
//! over Debian's `chromium`) against the HTTPS admin port in front of the
//! real daemon core (change engine, store, forwarder; the firewall recorded): login, dashboard, config check/apply/confirm, a live connection,
//! bans, every page on a phone and a wide screen, the language switch,
//! logout — once with an English browser, once with a French one.
//! Screenshots land in `target/screenshots/{en,fr}/`.
//! Needs `apt-get install -y chromium` and `npm install` in tests/browser.
#![allow(clippy::unwrap_used)]

mod admin_support;
mod engine_support;

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
    // The dashboard's chart draws the daemon's real samples (one every
    // 5 s, the first a baseline): connections opened between samples and
    // held make both lines move, so they are not flat (a flat SVG path has
    // an empty box, which the browser does not count as visible).
    let mut held = vec![a.engine.open_tls("paroisse-a.example.org").await];
    let mut waited = 0;
    while !chart_moves(&a.engine.daemon.series()) {
        assert!(
            waited < 250,
            "the samples never moved: {:?}",
            a.engine.daemon.series()
        );
        if held.len() == 1 && !a.engine.daemon.series().points.is_empty() {
            held.push(a.engine.open_tls("paroisse-a.example.org").await);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    // Once with an English browser, once with a French one: each run
    // applies and confirms a route of its own (versions 2 and 3).
    for (lang, version, host) in [
        ("en", 2, "added.example.org"),
        ("fr", 3, "ajoutee.example.org"),
    ] {
        run_browser(&script, &a, lang).await;
        let h = a.engine.daemon.history();
        let last = h.last().unwrap();
        assert_eq!(
            (last.version, last.state),
            (version, VersionState::Running),
            "{lang}: {h:?}"
        );
        assert_eq!(last.comment, "browser test: add a route");
        assert!(a.engine.daemon.config_text().contains(host), "{lang}");
    }
    let bans = a.engine.firewall.ban_calls();
    let by_hand = bans
        .iter()
        .filter(|(ip, secs)| ip.to_string() == "203.0.113.77" && *secs == 300);
    assert_eq!(by_hand.count(), 2, "one ban by hand per language: {bans:?}");
    drop(held);
}

/// Runs tests/browser/run.mjs once in `lang`; screenshots in
/// `target/screenshots/<lang>/`.
async fn run_browser(script: &Path, a: &admin_support::Admin, lang: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shots = root.join("target/screenshots").join(lang);
    let _ = std::fs::remove_dir_all(&shots);
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(240),
        tokio::process::Command::new("node")
            .arg(script)
            .env("PARVIS_URL", a.url(""))
            .env("PARVIS_PASSWORD", admin_support::PASSWORD)
            // Held above through the forwarder (run.mjs's own TLS client
            // would wait for a handshake the holding backend never makes).
            .env("PARVIS_EXPECT_CONN", "paroisse-a.example.org")
            .env("PARVIS_EXPECT_NAME", engine_support::NAME)
            .env("PARVIS_LANG", lang)
            .env("PARVIS_SCREENSHOTS", &shots)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser test took over 4 minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{lang}:\n{stdout}");
    assert!(
        out.status.success(),
        "browser test ({lang}) failed:\n{stdout}\n{stderr}"
    );
    for name in [
        "01-login",
        "02-dashboard",
        "04-config-error",
        "04b-config-problem",
        "05-config-pending",
        "07-connections",
        "phone-dashboard",
        "wide-dashboard",
    ] {
        let p = shots.join(format!("{name}.png"));
        assert!(
            std::fs::metadata(&p)
                .map(|m| m.len() > 10_000)
                .unwrap_or(false),
            "{lang}: {}",
            p.display()
        );
    }
}

/// Whether both lines have moved (two samples differ in rate and in
/// active connections).
fn chart_moves(s: &parvis::api::SeriesView) -> bool {
    let moved =
        |f: fn(&parvis::api::SeriesPoint) -> f64| s.points.windows(2).any(|w| f(&w[0]) != f(&w[1]));
    moved(|p| p.conn_rate) && moved(|p| p.active as f64)
}
