//! Benchmark program (not a timed test): render + apply a config with 1,000
//! forwards and 50,000 blocked prefixes in a throwaway network namespace,
//! side by side with loading the same ruleset with `nft -f` (text) and
//! `nft -j -f` (the JSON parvis sends) directly. Needs root.
//!
//! `cargo bench --bench firewall_apply` (re-runs itself inside `pv-<pid>-bench`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FORWARDS: u32 = 1_000;
const BLOCKED: u32 = 50_000;
const ROUNDS: usize = 5;

fn main() {
    if std::env::args().any(|a| a == "--in-netns") {
        std::process::exit(match measure() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("bench: {e}");
                1
            }
        });
    }
    let ns = format!("pv-{}-bench", std::process::id());
    let status = (|| -> Result<bool, String> {
        run(&["ip", "netns", "add", &ns], None)?;
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let me = me.to_string_lossy();
        let st = Command::new("ip")
            .args(["netns", "exec", &ns, &me, "--in-netns"])
            .status()
            .map_err(|e| e.to_string())?;
        Ok(st.success())
    })();
    let _ = run(&["ip", "netns", "del", &ns], None);
    match status {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("bench: {e} (needs root, iproute2 and nftables)");
            std::process::exit(1);
        }
    }
}

fn config_text() -> String {
    let mut t = String::from("[admin]\nallow = [\"198.51.100.0/24\"]\n\n[limits]\nconn_rate = \"50/second\"\nconn_burst = 100\nconn_max = 200\nban = \"10m\"\nblock = [\n");
    for i in 0..BLOCKED {
        // Every other /28 of 10.64.0.0/10: no two prefixes touch, none merge.
        let n = (10u32 << 24 | 64 << 16) + i * 32;
        t.push_str(&format!("  \"{}/28\",\n", std::net::Ipv4Addr::from(n)));
    }
    t.push_str("]\n\n[[listener]]\nname = \"https\"\nbind = \"0.0.0.0:443\"\nprotocol = \"tls\"\n");
    for i in 0..FORWARDS {
        let masq = i % 2 == 0;
        t.push_str(&format!(
            "\n[[forward]]\nproto = \"{}\"\nport = {}\nto = \"10.0.{}.{}:22\"\nmasquerade = {masq}\n",
            if i % 4 == 3 { "udp" } else { "tcp" },
            20_000 + i,
            1 + i / 250,
            1 + i % 250
        ));
    }
    t
}

fn measure() -> Result<(), String> {
    let text = config_text();
    let t0 = Instant::now();
    let cfg = parvis::config::parse(&text).map_err(|e| e.to_string())?;
    let parse = t0.elapsed();
    let t0 = Instant::now();
    let rs = parvis::firewall::render(&cfg);
    let json = rs.to_json();
    let render = t0.elapsed();

    let mut first = Vec::new();
    let mut again = Vec::new();
    let mut text_load = Vec::new();
    let mut json_load = Vec::new();
    let mut nft_text = String::new();
    for _ in 0..ROUNDS {
        delete_table();
        first.push(timed(|| {
            parvis::firewall::apply(&cfg)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })?);
        again.push(timed(|| {
            parvis::firewall::apply(&cfg)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })?);
        nft_text = run(&["nft", "list", "table", "inet", "parvis"], None)?;
        delete_table();
        text_load.push(timed(|| {
            run(&["nft", "-f", "-"], Some(&nft_text)).map(|_| ())
        })?);
        delete_table();
        json_load.push(timed(|| {
            run(&["nft", "-j", "-f", "-"], Some(&json)).map(|_| ())
        })?);
    }
    delete_table();
    let rules = rs.rules.len();
    println!("firewall apply: {FORWARDS} forwards, {BLOCKED} blocked prefixes -> {rules} rules, {} sets; JSON {} KiB, text {} KiB; median of {ROUNDS}", rs.sets.len(), json.len() / 1024, nft_text.len() / 1024);
    println!("{:<58} {:>10}", "step", "ms");
    println!(
        "{:<58} {:>10.1}",
        "parse + validate the TOML (not part of apply)",
        ms(parse)
    );
    println!(
        "{:<58} {:>10.1}",
        "render + serialise JSON (pure)",
        ms(render)
    );
    println!(
        "{:<58} {:>10.1}",
        "parvis apply, empty namespace (render..read-back)",
        ms(median(&mut first))
    );
    println!(
        "{:<58} {:>10.1}",
        "parvis apply, replacing the same table (reload)",
        ms(median(&mut again))
    );
    println!(
        "{:<58} {:>10.1}",
        "nft -f (text listing of the same table), direct",
        ms(median(&mut text_load))
    );
    println!(
        "{:<58} {:>10.1}",
        "nft -j -f (parvis's JSON), direct",
        ms(median(&mut json_load))
    );
    let ratio = median(&mut again).as_secs_f64() / median(&mut text_load).as_secs_f64();
    println!("reload / direct text load = {ratio:.2}x (target <= 1.5x, < 500 ms)");
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn timed(f: impl FnOnce() -> Result<(), String>) -> Result<Duration, String> {
    let t0 = Instant::now();
    f()?;
    Ok(t0.elapsed())
}

fn delete_table() {
    let _ = run(&["nft", "delete", "table", "inet", "parvis"], None);
}

fn run(args: &[&str], input: Option<&str>) -> Result<String, String> {
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
