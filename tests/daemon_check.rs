//! Big configs sent to `/api/v1/check` must not stall the data path: the
//! check runs on blocking threads, so a TLS connection through the
//! forwarder is answered while two checks of about 1 MB still run.

mod e2e_support;

use std::process::{Child, Stdio};
use std::time::Instant;

use e2e_support::*;
use parvis::lab::FLOATING_IP;

/// About 900 kB of forwards, each with a problem (JSON-escaped < 1 MiB).
fn big_config() -> String {
    let mut text = String::new();
    let mut n = 0;
    while text.len() < 900_000 {
        let port = 10_000 + n % 50_000;
        text.push_str(&format!(
            "[[forward]]\nproto = \"tcp\"\nport = {port}\nto = \"bad-{n}\"\n"
        ));
        n += 1;
    }
    text
}

fn check(lab: &Lab, jar: &str, csrf: &str, body: &std::path::Path) -> Child {
    let mut cmd = lab.topo.client().command("curl");
    cmd.args([
        "-sk",
        "--max-time",
        "120",
        "-b",
        jar,
        "-H",
        &format!("X-CSRF-Token: {csrf}"),
        "-H",
        "Content-Type: application/json",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--data-binary",
    ]);
    cmd.arg(format!("@{}", body.display()));
    cmd.arg(format!("https://{FLOATING_IP}:8443/api/v1/check"));
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    cmd.spawn().unwrap_or_else(|e| panic!("curl: {e}"))
}

#[test]
fn big_checks_do_not_stall_new_tls_connections() {
    let lab = lab();
    let (jar, csrf) = lab.login("jar");
    let body = serde_json::json!({ "config": big_config() }).to_string();
    assert!(body.len() < 1 << 20, "{} bytes", body.len());
    let file = lab.write("check.json", &body);
    let started = Instant::now();
    let checks: Vec<Child> = (0..2).map(|_| check(&lab, &jar, &csrf, &file)).collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let t = Instant::now();
    let answer = lab.https(host_a(), "/");
    let tls_took = t.elapsed();
    let tls_done = started.elapsed();
    assert!(answer.starts_with("ingress=ingress1"), "{answer}");
    let mut codes = Vec::new();
    for c in checks {
        let out = c.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        codes.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let checks_done = started.elapsed();
    eprintln!(
        "TLS through the forwarder answered in {tls_took:?}, {tls_done:?} after the checks began; checks done after {checks_done:?}"
    );
    assert_eq!(codes, ["200", "200"]);
    // The connection is answered while the checks still run, not after.
    assert!(
        tls_done < checks_done,
        "TLS answered at {tls_done:?}, checks done at {checks_done:?}"
    );
    assert!(
        tls_took < std::time::Duration::from_secs(2),
        "TLS took {tls_took:?}"
    );
    // Over the limit: a clear 413.
    let huge = serde_json::json!({ "config": "#".repeat(2 << 20) }).to_string();
    let file = lab.write("huge.json", &huge);
    let out = check(&lab, &jar, &csrf, &file)
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "413");
}
