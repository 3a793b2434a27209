//! The admin UI of the real daemon in the lab, driven by headless Chromium
//! (tests/browser/run.mjs): the browser reaches the admin port through the
//! floating IP as the client 198.51.100.10 would (a socat door from host
//! loopback into the client namespace), logs in, reads the dashboard,
//! checks and applies a route with confirm, sees a live connection held
//! through the forwarder, bans and unbans. The screenshots land in
//! `target/screenshots-lab/` (the README's picture comes from there).

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

#[test]
fn the_real_admin_ui_works_in_headless_chromium() {
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
    // A connection held through the forwarder for the live table.
    let resolve = format!("{}:443:{FLOATING_IP}", host_b());
    let mut held = lab.topo.client().command("curl");
    held.args([
        "-sk",
        "--max-time",
        "60",
        "--resolve",
        &resolve,
        &format!("https://{}/hold?secs=45", host_b()),
    ]);
    held.stdout(Stdio::null());
    let held = ChildGuard::spawn(held).unwrap_or_else(|e| panic!("{e}"));
    let shots = root.join("target/screenshots-lab");
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg(root.join("tests/browser/run.mjs"))
        .env("PARVIS_URL", format!("https://127.0.0.1:{port}"))
        .env("PARVIS_PASSWORD", &lab.password)
        .env("PARVIS_EXPECT_CONN", host_b())
        .env("PARVIS_EXPECT_NAME", "lab-edge")
        .env("PARVIS_SCREENSHOTS", &shots)
        .output()
        .unwrap_or_else(|e| panic!("node: {e}"));
    drop(held);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What the browser did reached the real daemon.
    let history = String::from_utf8_lossy(&lab.cli(&["history"]).stdout).into_owned();
    assert!(history.contains("browser test: add a route"), "{history}");
    let routes = String::from_utf8_lossy(&lab.cli(&["routes"]).stdout).into_owned();
    assert!(routes.contains("added.example.org"), "{routes}");
    for name in [
        "02-dashboard",
        "05-config-pending",
        "07-connections",
        "09-firewall",
    ] {
        let p = shots.join(format!("{name}.png"));
        assert!(
            std::fs::metadata(&p).is_ok_and(|m| m.len() > 10_000),
            "screenshot {}",
            p.display()
        );
    }
}
