//! Changes to the running daemon, end to end in the lab: apply with
//! confirm-or-rollback (checked with packets), connections that live
//! through changes, SIGHUP, refused changes that leave the old version
//! running, and the safety net against locking the operator out.

mod e2e_support;

use std::time::{Duration, Instant};

use e2e_support::*;
use parvis::lab::{appliance::FORWARD_PORT, FLOATING_IP, SERVER};

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

#[test]
fn unconfirmed_change_rolls_back_by_itself_and_connections_live_through_it() {
    let lab = lab();
    let extra = format!("\n[[forward]]\nproto = \"tcp\"\nport = 8081\nto = \"{SERVER}:{FORWARD_PORT}\"\nmasquerade = true\n");
    let new = lab.write("new.toml", &(lab.config_text() + &extra));
    // Long-lived connections: TLS through the forwarder, TCP through the forward.
    let resolve = format!("{}:443:{FLOATING_IP}", host_a());
    let mut tls = lab.topo.client().command("curl");
    tls.args([
        "-sk",
        "--max-time",
        "20",
        "--resolve",
        &resolve,
        &format!("https://{}/hold?secs=7", host_a()),
    ]);
    let tls = tls.output_async();
    let mut fwd = lab.topo.client().command("curl");
    fwd.args([
        "-s",
        "--max-time",
        "20",
        &format!("http://{FLOATING_IP}:{FORWARD_PORT}/hold?secs=7"),
    ]);
    let fwd = fwd.output_async();
    std::thread::sleep(Duration::from_millis(500));

    let started = Instant::now();
    let out = lab.cli(&[
        "apply",
        "--config",
        &new.to_string_lossy(),
        "--confirm-within",
        "3",
    ]);
    assert!(out.status.success(), "{out:?}");
    let during = client_curl(&lab.topo, &[&format!("http://{FLOATING_IP}:8081/")]);
    assert!(
        during.starts_with("ingress=server client=10.0.0.1:"),
        "new masqueraded forward: {during}"
    );
    let second = lab.cli(&["apply", "--config", &new.to_string_lossy()]);
    assert!(
        !second.status.success(),
        "a second apply while one is pending must be refused"
    );
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("pending"),
        "{second:?}"
    );

    let rolled = eventually(8, || {
        json(&lab.cli(&["status", "--json"]))["pending"].is_null()
    });
    let took = started.elapsed();
    assert!(rolled, "no rollback");
    assert!(
        took < Duration::from_millis(4500),
        "rolled back {took:?} after the apply (deadline 3 s)"
    );
    let gone = lab.client_curl_raw(&[&format!("http://{FLOATING_IP}:8081/")]);
    assert_eq!(
        gone.status.code(),
        Some(28),
        "the forward must be gone again: {gone:?}"
    );
    let history = String::from_utf8_lossy(&lab.cli(&["history"]).stdout).into_owned();
    assert!(history.contains("rolled-back"), "{history}");

    let tls = tls.finish();
    let fwd = fwd.finish();
    assert!(
        tls.contains("ingress=ingress1 client=198.51.100.10:"),
        "TLS connection through the change: {tls:?}"
    );
    assert!(
        fwd.contains("ingress=server client=198.51.100.10:"),
        "forwarded connection through the change: {fwd:?}"
    );
}

#[test]
fn confirmed_change_stays_and_sighup_reloads_the_file() {
    let lab = lab();
    let text = lab.config_text().replace(
        "hosts = [\"paroisse-b.example.org\", \"*.paroisses.example.org\"]",
        "hosts = [\"paroisse-b.example.org\", \"*.paroisses.example.org\", \"paroisse-c.example.org\"]",
    );
    let new = lab.write("c.toml", &text);
    let out = lab.cli(&[
        "apply",
        "--config",
        &new.to_string_lossy(),
        "--confirm-within",
        "2",
    ]);
    assert!(out.status.success(), "{out:?}");
    let ok = lab.cli(&["confirm"]);
    assert!(ok.status.success(), "{ok:?}");
    std::thread::sleep(Duration::from_secs(3));
    for _ in 0..3 {
        let c = lab.https("paroisse-c.example.org", "/");
        assert!(c.starts_with("ingress=ingress2 "), "confirmed route: {c}");
    }
    // SIGHUP: the file, edited, becomes version 3.
    let edited = text.replace("paroisse-c.example.org", "paroisse-d.example.org");
    std::fs::write(&lab.daemon.config, edited).unwrap_or_else(|e| panic!("{e}"));
    let pid = lab.daemon.child.id().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status();
    assert!(hup.is_ok_and(|s| s.success()));
    let reloaded = eventually(5, || {
        let routes = String::from_utf8_lossy(&lab.cli(&["routes"]).stdout).into_owned();
        routes.contains("paroisse-d.example.org")
    });
    assert!(reloaded, "SIGHUP did not apply the file");
    let d = lab.https("paroisse-d.example.org", "/");
    assert!(d.starts_with("ingress=ingress2 "), "{d}");
    let history = json(&lab.cli(&["history", "--json"]));
    let authors: Vec<String> = history
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v["author"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(authors.iter().any(|a| a.starts_with("sighup")), "{history}");
}

#[test]
fn refused_changes_leave_the_running_version() {
    let lab = lab();
    // Not a valid config: exit 2, nothing changes.
    let bad = lab.write("bad.toml", "[[listener]]\nname = \"x\"\n");
    let out = lab.cli(&["apply", "--config", &bad.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // A listener port already taken in the appliance: the forwarder step
    // fails, the firewall step is undone, version 1 keeps running.
    let _squatter = lab
        .topo
        .appliance()
        .spawn(&[
            "socat",
            "TCP-LISTEN:7443,fork,reuseaddr",
            "SYSTEM:echo squatter",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(300));
    let extra = "\n[[listener]]\nname = \"extra\"\nbind = \"0.0.0.0:7443\"\nprotocol = \"tls\"\ndefault_backend = \"ingress-a\"\n";
    let taken = lab.write("taken.toml", &(lab.config_text() + extra));
    let out = lab.cli(&["apply", "--config", &taken.to_string_lossy()]);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("7443"), "the reason names the port: {err}");
    let rules = String::from_utf8_lossy(&lab.cli(&["ruleset"]).stdout).into_owned();
    assert!(
        !rules.contains("listener extra"),
        "the firewall step was not undone"
    );
    let a = lab.https(host_a(), "/");
    assert!(
        a.starts_with("ingress=ingress1 client=198.51.100.10:"),
        "{a}"
    );
    assert_eq!(json(&lab.cli(&["status", "--json"]))["config_version"], 1);
}

#[test]
fn a_change_that_locks_out_the_operator_is_refused() {
    let lab = lab();
    let base = format!("https://{FLOATING_IP}:8443");
    let (jar, csrf) = lab.login("jar");
    let cut = lab.config_text().replace(
        "allow = [\"198.51.100.0/24\"]",
        "allow = [\"192.0.2.0/24\"]",
    );
    let req = serde_json::json!({ "config": cut, "comment": "cut myself off" }).to_string();
    let out = lab.client_curl_raw(&[
        "-k",
        "-b",
        &jar,
        "-H",
        "Content-Type: application/json",
        "-H",
        &format!("X-CSRF-Token: {csrf}"),
        "-d",
        &req,
        "-w",
        "\n%{http_code}",
        &format!("{base}/api/v1/apply"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.ends_with("409"), "{text}");
    assert!(
        text.contains("198.51.100.10"),
        "the refusal names the address: {text}"
    );
    let admin = lab.client_curl_raw(&[
        "-k",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{base}/login"),
    ]);
    assert_eq!(String::from_utf8_lossy(&admin.stdout), "200");
}

/// A command started now whose output is collected later.
trait Background {
    fn output_async(self) -> Pending;
}

struct Pending(std::process::Child);

impl Background for std::process::Command {
    fn output_async(mut self) -> Pending {
        self.stdout(std::process::Stdio::piped());
        Pending(self.spawn().unwrap_or_else(|e| panic!("{e}")))
    }
}

impl Pending {
    fn finish(self) -> String {
        let out = self.0.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
