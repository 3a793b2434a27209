//! The operator's doors changed live, against the real daemon in the lab:
//! `admin.listen` and `metrics.listen` move on apply (the old port refuses,
//! the new one answers, the firewall follows, sessions carry over), a taken
//! port fails the apply and the old socket still answers, and the admin
//! certificate is swapped on apply (seen by `openssl s_client`).

mod e2e_support;

use std::process::Output;

use e2e_support::*;
use parvis::lab::FLOATING_IP;

/// `curl -sk -o /dev/null -w %{http_code}` plus curl's exit code.
fn code(out: &Output) -> (Option<i32>, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// curl from inside the appliance (loopback: no firewall in the way).
fn local(lab: &Lab, url: &str) -> Output {
    let mut cmd = lab.topo.appliance().command("curl");
    cmd.args([
        "-sk",
        "--max-time",
        "3",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        url,
    ]);
    cmd.output().unwrap_or_else(|e| panic!("curl: {e}"))
}

fn apply(lab: &Lab, name: &str, text: &str) -> Output {
    let path = lab.write(name, text);
    lab.cli(&["apply", "--config", &path.to_string_lossy()])
}

/// The status code of GET `url` from the client (`jar`: with its session).
fn status_from_client(lab: &Lab, url: &str, jar: Option<&str>) -> (Option<i32>, String) {
    let mut args = vec!["-k", "-o", "/dev/null", "-w", "%{http_code}"];
    if let Some(j) = jar {
        args.extend(["-b", j]);
    }
    args.push(url);
    code(&lab.client_curl_raw(&args))
}

#[test]
fn admin_and_metrics_ports_move_live_and_a_taken_port_fails_cleanly() {
    let lab = lab();
    let old_url = format!("https://{FLOATING_IP}:8443/api/v1/status");
    assert!(eventually(10, || status_from_client(&lab, &old_url, None)
        .1
        == "401"));
    let (jar, _) = lab.login("jar");
    assert_eq!(status_from_client(&lab, &old_url, Some(&jar)).1, "200");

    let moved = lab.config_text().replace("0.0.0.0:8443", "0.0.0.0:9443");
    let out = apply(&lab, "moved.toml", &moved);
    assert!(out.status.success(), "{out:?}");
    let new_url = format!("https://{FLOATING_IP}:9443/api/v1/status");
    // The firewall follows (admin.allow reaches the new port), the same
    // session rules hold: no cookie 401, the session made on 8443 is valid.
    assert_eq!(
        status_from_client(&lab, &new_url, None),
        (Some(0), "401".into())
    );
    assert_eq!(
        status_from_client(&lab, &new_url, Some(&jar)),
        (Some(0), "200".into())
    );
    // The old socket is closed (from inside: connection refused, curl 7).
    let old_local = local(&lab, "https://127.0.0.1:8443/");
    assert_eq!(old_local.status.code(), Some(7), "{old_local:?}");
    assert_ne!(status_from_client(&lab, &old_url, None).1, "401");

    // A port somebody else holds: the apply fails, saying which and why,
    // and the admin port still answers where it was.
    let _holder = lab
        .topo
        .appliance()
        .spawn(&["socat", "TCP-LISTEN:9555,reuseaddr,fork", "OPEN:/dev/null"])
        .unwrap_or_else(|e| panic!("socat: {e}"));
    assert!(eventually(5, || local(&lab, "http://127.0.0.1:9555/")
        .status
        .code()
        != Some(7)));
    let taken = moved.replace("0.0.0.0:9443", "0.0.0.0:9555");
    let out = apply(&lab, "taken.toml", &taken);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        err.contains("0.0.0.0:9555") && err.contains("admin.listen"),
        "{err}"
    );
    assert_eq!(
        status_from_client(&lab, &new_url, Some(&jar)),
        (Some(0), "200".into())
    );

    // A move left unconfirmed rolls back by itself: the port comes back.
    let pending = moved.replace("0.0.0.0:9443", "0.0.0.0:9600");
    let path = lab.write("pending.toml", &pending);
    let out = lab.cli(&[
        "apply",
        "--config",
        &path.to_string_lossy(),
        "--confirm-within",
        "2",
    ]);
    assert!(out.status.success(), "{out:?}");
    let pending_url = format!("https://{FLOATING_IP}:9600/api/v1/status");
    assert_eq!(
        status_from_client(&lab, &pending_url, Some(&jar)),
        (Some(0), "200".into())
    );
    assert!(eventually(8, || status_from_client(
        &lab,
        &new_url,
        Some(&jar)
    )
    .1 == "200"));
    assert_eq!(
        local(&lab, "https://127.0.0.1:9600/").status.code(),
        Some(7)
    );

    // [metrics] appears, then moves: the old port refuses, the new answers.
    let metrics = format!("{moved}\n[metrics]\nlisten = \"127.0.0.1:9108\"\n");
    let out = apply(&lab, "metrics.toml", &metrics);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        code(&local(&lab, "http://127.0.0.1:9108/metrics")),
        (Some(0), "200".into())
    );
    let out = apply(&lab, "metrics2.toml", &metrics.replace(":9108", ":9109"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        code(&local(&lab, "http://127.0.0.1:9109/metrics")),
        (Some(0), "200".into())
    );
    assert_eq!(
        local(&lab, "http://127.0.0.1:9108/metrics").status.code(),
        Some(7)
    );
    // And goes away.
    let out = apply(&lab, "nometrics.toml", &moved);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        local(&lab, "http://127.0.0.1:9109/metrics").status.code(),
        Some(7)
    );
}

/// A self-signed certificate and key in `dir` named `name`; returns the
/// paths and the SHA-256 fingerprint as openssl prints it.
fn make_cert(lab: &Lab, name: &str) -> (String, String, String) {
    let cert = lab.dir.join(format!("{name}.crt")).display().to_string();
    let key = lab.dir.join(format!("{name}.key")).display().to_string();
    let subj = format!("/CN={name}");
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes", "-days", "2", "-subj", &subj, "-keyout", &key, "-out", &cert,
        ])
        .output()
        .unwrap_or_else(|e| panic!("openssl: {e}"));
    assert!(ok.status.success(), "{ok:?}");
    let fp = fingerprint_of_file(&cert);
    (cert, key, fp)
}

fn fingerprint_of_file(cert: &str) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in", cert])
        .output()
        .unwrap_or_else(|e| panic!("openssl: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The fingerprint of the certificate the admin port serves to a new
/// handshake from the client, through the floating IP.
fn served(lab: &Lab) -> String {
    let connect = format!("{FLOATING_IP}:8443");
    let mut cmd = lab.topo.client().command("sh");
    let script = format!(
        "openssl s_client -connect {connect} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
    );
    cmd.args(["-c", &script]);
    let out = cmd.output().unwrap_or_else(|e| panic!("s_client: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn admin_certificate_is_replaced_on_apply() {
    let lab = lab();
    assert!(eventually(10, || !served(&lab).is_empty()));
    let self_signed = served(&lab);
    let (cert, key, first) = make_cert(&lab, "first");
    let tls = format!("tls_cert = \"{cert}\"\ntls_key = \"{key}\"\n");
    let with_files = lab
        .config_text()
        .replace("[admin]\n", &format!("[admin]\n{tls}"));
    let out = apply(&lab, "tls.toml", &with_files);
    assert!(out.status.success(), "{out:?}");
    assert_ne!(first, self_signed);
    assert_eq!(served(&lab), first);

    // Renewed in place (same file names): the next apply of the same
    // config, as `systemctl reload` runs it, serves the new certificate.
    let (c2, k2, second) = make_cert(&lab, "second");
    std::fs::rename(&c2, &cert).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(&k2, &key).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(served(&lab), first, "swapped before any apply");
    let out = apply(&lab, "tls.toml", &with_files);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(served(&lab), second);

    // A certificate file that does not exist: refused, clearly, and the
    // certificate in service stays.
    let missing = with_files.replace(&cert, "/nonexistent/admin.crt");
    let out = apply(&lab, "missing.toml", &missing);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(err.contains("/nonexistent/admin.crt"), "{err}");
    assert_eq!(served(&lab), second);
}
