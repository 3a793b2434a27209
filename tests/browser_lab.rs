//! The admin UI of the real daemon in the lab, driven by headless Chromium
//! (tests/browser/run.mjs): the browser reaches the admin port through the
//! floating IP as the client 198.51.100.10 would (a socat door from host
//! loopback into the client namespace), logs in, reads the dashboard,
//! checks and applies a route with confirm, sees a live connection held
//! through the forwarder, drains and undrains a server, filters the
//! connection log, bans and unbans, switches language — once with an
//! English browser, once with a French one. The screenshots land in
//! `target/screenshots-lab/{en,fr}/` (the README's picture comes from there),
//! with every page on a phone and on a wide screen.

mod e2e_support;

use std::path::Path;
use std::process::{Command, Stdio};

use parvis::lab::appliance;

use e2e_support::*;
use parvis::lab::{ChildGuard, FLOATING_IP};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Runs tests/browser/run.mjs once in `lang` against the lab's admin
/// port, with a connection held open through the forwarder for the live
/// table; screenshots in `target/screenshots-lab/<lang>/`.
fn run_browser(lab: &Lab, port: u16, lang: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let resolve = format!("{}:443:{FLOATING_IP}", host_b());
    let mut held = lab.topo.client().command("curl");
    held.args([
        "-sk",
        "--max-time",
        "90",
        "--resolve",
        &resolve,
        &format!("https://{}/hold?secs=80", host_b()),
    ]);
    held.stdout(Stdio::null());
    let held = ChildGuard::spawn(held).unwrap_or_else(|e| panic!("{e}"));
    let shots = root.join("target/screenshots-lab").join(lang);
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg(root.join("tests/browser/run.mjs"))
        .env("PARVIS_URL", format!("https://127.0.0.1:{port}"))
        .env("PARVIS_PASSWORD", &lab.password)
        .env("PARVIS_EXPECT_CONN", host_b())
        .env("PARVIS_EXPECT_NAME", "lab-edge")
        .env("PARVIS_EXPECT_LOG", host_a())
        .env("PARVIS_DRAIN", "1")
        .env("PARVIS_LANG", lang)
        .env("PARVIS_SCREENSHOTS", &shots)
        .output()
        .unwrap_or_else(|e| panic!("node: {e}"));
    drop(held);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{lang}:\n{stdout}");
    assert!(
        out.status.success(),
        "browser test ({lang}) failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "02-dashboard",
        "03b-drained",
        "05-config-pending",
        "07-connections",
        "09-firewall",
        "10-log",
        "phone-dashboard",
        "wide-dashboard",
    ] {
        let p = shots.join(format!("{name}.png"));
        assert!(
            std::fs::metadata(&p).is_ok_and(|m| m.len() > 10_000),
            "screenshot {}",
            p.display()
        );
    }
}

#[test]
fn the_real_admin_ui_works_in_headless_chromium_in_english_and_french() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "needs Debian's chromium: apt-get install -y chromium"
    );
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .exists(),
        "needs playwright-core: (cd tests/browser && npm ci)"
    );
    let lab = lab();
    let port = free_port();
    let _door = appliance::door(&lab.topo, port, (FLOATING_IP, 8443).into())
        .unwrap_or_else(|| panic!("socat door to the admin port"));
    // A finished connection for the connection log page.
    let body = lab.https(host_a(), "/");
    assert!(!body.is_empty(), "the lab answers for {}", host_a());
    run_browser(&lab, port, "en");
    run_browser(&lab, port, "fr");
    // What the browser did reached the real daemon.
    let history = String::from_utf8_lossy(&lab.cli(&["history"]).stdout).into_owned();
    assert!(history.contains("browser test: add a route"), "{history}");
    let routes = String::from_utf8_lossy(&lab.cli(&["routes"]).stdout).into_owned();
    assert!(
        routes.contains("added.example.org") && routes.contains("ajoutee.example.org"),
        "{routes}"
    );
    assert!(
        !routes.contains("DRAINED"),
        "undrained at the end: {routes}"
    );
    // The connection log the page showed, from the CLI over the socket.
    let log = String::from_utf8_lossy(&lab.cli(&["log", "--host", host_a()]).stdout).into_owned();
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("sni={}", host_a())) && l.contains("end=")),
        "{log}"
    );
    let none = lab.cli(&[
        "log",
        "--host",
        "never-seen.example.org",
        "--end",
        "timeout",
    ]);
    assert!(
        String::from_utf8_lossy(&none.stdout).contains("no finished connection matches"),
        "{none:?}"
    );
}
