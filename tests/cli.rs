//! The control socket and the real `parvis` CLI against it (the real
//! daemon core behind the socket, `engine_support`: change engine, store
//! and forwarder real, the firewall recorded): tables, `--json`, apply/confirm/rollback,
//! exit codes, the daemon-not-running message, `parvis passwd`.
#![allow(clippy::unwrap_used)]

mod engine_support;

use engine_support::Engine;
use parvis::api::Control;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;
use tokio::sync::oneshot;

const BIN: &str = env!("CARGO_BIN_EXE_parvis");

struct Daemon {
    socket: PathBuf,
    engine: Engine,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), parvis::control::ControlError>>>,
}

impl Daemon {
    async fn start() -> Daemon {
        let engine = engine_support::start().await;
        let socket = engine.dir.path().join("run/parvis/control.sock");
        let (tx, rx) = oneshot::channel::<()>();
        let (s, f) = (socket.clone(), engine.daemon.clone());
        let task = tokio::spawn(async move {
            parvis::control::serve(&s, f, async {
                let _ = rx.await;
            })
            .await
        });
        for _ in 0..100 {
            if socket.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Daemon {
            socket,
            engine,
            stop: Some(tx),
            task: Some(task),
        }
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--socket", self.socket.to_str().unwrap()]);
        cli(&all).await
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

async fn cli(args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .output()
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_prints_tables_and_json() {
    let d = Daemon::start().await;
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode");
    let o = d.run(&["status"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    println!("{out}");
    assert!(out.contains("name     edge-test"), "{out}");
    let header = out.lines().find(|l| l.starts_with("LISTENER")).unwrap();
    let row = out.lines().find(|l| l.starts_with("https ")).unwrap();
    // Aligned: the PROTOCOL column starts at the same offset in header and row.
    assert_eq!(header.find("PROTOCOL"), row.find("tls"), "{out}");
    assert!(
        row.contains(&d.engine.listener.to_string()),
        "the listener's real bind: {out}"
    );
    let down = format!("server {} is down", d.engine.down);
    assert!(out.contains(&down), "the health check's warning: {out}");
    let o = d.run(&["status", "--json"]).await;
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["name"], "edge-test");
    assert_eq!(j["config_version"], 1);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_conns_ruleset_history() {
    let d = Daemon::start().await;
    let s = d.engine.open_tls("paroisse-a.example.org").await;
    let local = s.local_addr().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let out = stdout(&d.run(&["routes"]).await);
    println!("{out}");
    assert!(
        out.contains("paroisse-a.example.org,*.paroisses.example.org"),
        "{out}"
    );
    assert!(
        out.contains(&d.engine.down.to_string()) && out.contains("DOWN"),
        "{out}"
    );
    let out = stdout(&d.run(&["conns"]).await);
    println!("{out}");
    assert!(
        out.contains(&local.to_string()) && out.contains("paroisse-a.example.org"),
        "{out}"
    );
    assert!(out.contains("1 connection(s)"), "{out}");
    let j: serde_json::Value =
        serde_json::from_slice(&d.run(&["conns", "--json"]).await.stdout).unwrap();
    assert_eq!(j[0]["client"], local.to_string());
    let out = stdout(&d.run(&["ruleset"]).await);
    assert!(
        out.contains("table inet parvis") && out.contains("listener https"),
        "{out}"
    );
    let out = stdout(&d.run(&["history"]).await);
    assert!(
        out.contains("VERSION") && out.contains("running") && out.contains("first-boot"),
        "{out}"
    );
    drop(s);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_confirm_rollback() {
    let d = Daemon::start().await;
    let file = d.engine.dir.path().join("new.toml");
    std::fs::write(&file, d.engine.text.replace("paroisse-a", "paroisse-z")).unwrap();
    let f = file.to_str().unwrap();
    let o = d
        .run(&[
            "apply",
            "--config",
            f,
            "--confirm-within",
            "90",
            "--comment",
            "rename a to z",
        ])
        .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("applied: version 2")
            && (out.contains("rolls back in 90s") || out.contains("rolls back in 89s")),
        "{out}"
    );
    assert!(
        out.contains("+paroisse-z.example.org") && out.contains("-paroisse-a.example.org"),
        "changes listed: {out}"
    );
    let s = stdout(&d.run(&["status"]).await);
    assert!(s.contains("pending  version 2"), "{s}");
    // The engine refuses a second change while one is pending, even forced.
    let o = d.run(&["apply", "--config", f, "--force"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("pending"), "{}", stderr(&o));
    assert_eq!(d.engine.daemon.history().len(), 2, "nothing applied");
    assert_eq!(d.engine.daemon.history()[1].author, "cli");
    let o = d.run(&["confirm"]).await;
    assert_eq!(stdout(&o), "confirmed: version 2 is running\n");
    let o = d.run(&["confirm"]).await;
    assert_eq!(o.status.code(), Some(1), "nothing pending");
    assert!(
        stderr(&o).contains("pending confirmation"),
        "{}",
        stderr(&o)
    );
    let o = d.run(&["rollback", "1", "--json"]).await;
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["version"], 3);
    assert!(d.engine.daemon.config_text().contains("paroisse-a"));
    let o = d.run(&["rollback"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2() {
    let d = Daemon::start().await;
    let bad = d.engine.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[listener]]\nname = \"x\"\nbind = \"nope\"\nprotocol = \"tls\"\n",
    )
    .unwrap();
    let o = d.run(&["apply", "--config", bad.to_str().unwrap()]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 3"), "{}", stderr(&o));
    let o = d.run(&["apply", "--config", "/nonexistent.toml"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent.toml"));
    let o = d.run(&["rollback", "notanumber"]).await;
    assert_eq!(o.status.code(), Some(2));
    let o = d.run(&["status", "--bogus"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(d.engine.daemon.history().len(), 1, "nothing applied");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_running_is_a_clear_message_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("control.sock");
    let p = sock.to_str().unwrap();
    for cmd in [
        "status", "routes", "conns", "ruleset", "history", "confirm", "rollback",
    ] {
        let o = cli(&[cmd, "--socket", p]).await;
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        assert_eq!(
            stderr(&o),
            format!("parvis: parvis is not running (no control socket at {p})\n"),
            "{cmd}"
        );
    }
    // A stale socket file (no one listening) reads the same, and the
    // daemon replaces it when it starts.
    let stale = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    drop(stale);
    let o = cli(&["status", "--socket", p]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not running"));
    let l = parvis::control::bind(&sock).await.unwrap();
    // A second daemon on the same socket is refused.
    let err = parvis::control::bind(&sock)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("already listening"), "{err}");
    drop(l);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwd_stores_an_argon2id_hash() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cfg = dir.path().join("parvis.toml");
    let at = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
    let text = engine_support::config(&state, at(7), at(8), at(9));
    std::fs::write(&cfg, text).unwrap();
    let run = |input: &'static str| {
        let cfg = cfg.clone();
        async move {
            let mut child = tokio::process::Command::new(BIN)
                .args(["passwd", "--config", cfg.to_str().unwrap()])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            tokio::io::AsyncWriteExt::write_all(&mut stdin, input.as_bytes())
                .await
                .unwrap();
            drop(stdin);
            child.wait_with_output().await.unwrap()
        }
    };
    let o = run("short\n").await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run("a long enough secret\n").await;
    assert!(o.status.success(), "{}", stderr(&o));
    let file = state.join("admin.passwd");
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains("a long enough secret"));
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(parvis::admin::auth::verify(&state, "a long enough secret").unwrap());
    assert!(!parvis::admin::auth::verify(&state, "a long enough secreT").unwrap());
}
