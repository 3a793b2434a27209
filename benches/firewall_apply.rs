//! Benchmark program (not a timed test): apply a config with 1,000
//! forwards and 50,000 blocked prefixes (from `limits.block_file`) in a
//! throwaway network namespace — from nothing, after a one-forward change,
//! after a block-list change — side by side with loading the same ruleset
//! with `nft -j -f` (the JSON parvis renders) and `nft -f` (the text
//! listing) directly. Medians over rounds. Needs root.
//!
//! `cargo bench --bench firewall_apply` (re-runs itself inside `pv-<pid>-bench`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FORWARDS: u32 = 1_000;
const BLOCKED: u32 = 50_000;
const ROUNDS: usize = 7;

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

/// The block file: every other /28 of 10.64.0.0/10 (no two prefixes
/// touch, none merge); `shift` moves the last one, for a list change.
fn block_file(shift: u32) -> String {
    let mut t = String::from("# benchmark block list\n");
    for i in 0..BLOCKED {
        let k = if i + 1 == BLOCKED { i + shift } else { i };
        let n = (10u32 << 24 | 64 << 16) + k * 32;
        t.push_str(&format!("{}/28\n", std::net::Ipv4Addr::from(n)));
    }
    t
}

fn config_text(file: &std::path::Path, forwards: u32) -> String {
    let mut t = format!("[admin]\nallow = [\"198.51.100.0/24\"]\n\n[limits]\nconn_rate = \"50/second\"\nconn_burst = 100\nconn_max = 200\nban = \"10m\"\nblock_file = \"{}\"\n", file.display());
    t.push_str("\n[[listener]]\nname = \"https\"\nbind = \"0.0.0.0:443\"\nprotocol = \"tls\"\n");
    for i in 0..forwards {
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

/// Medians of one scenario: parvis, `nft -j -f` and `nft -f` (text) of
/// the same ruleset.
#[derive(Default)]
struct Row {
    parvis: Vec<Duration>,
    json: Vec<Duration>,
    text: Vec<Duration>,
}

fn apply(cfg: &parvis::config::Config) -> Result<(), String> {
    parvis::firewall::apply(cfg)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn nft_json(json: &str) -> Result<(), String> {
    let before = run(&["nft", "list", "tables"], None).unwrap_or_default();
    run(&["nft", "-j", "-f", "-"], Some(json))
        .map(|_| ())
        .map_err(|e| format!("{e} (tables before the load: {before:?})"))
}

fn nft_text(text: &str) -> Result<(), String> {
    run(&["nft", "-f", "-"], Some(text)).map(|_| ())
}

/// The text listing of the table `cfg` renders, made the way an operator
/// would (`nft list table`), to be loaded back with `nft -f` into a
/// namespace without the table.
fn listing(cfg: &parvis::config::Config) -> Result<String, String> {
    delete_table();
    apply(cfg)?;
    let t = run(&["nft", "list", "table", "inet", "parvis"], None)?;
    delete_table();
    Ok(t)
}

fn measure() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("pv-{}-bench", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = scenarios(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn scenarios(dir: &std::path::Path) -> Result<(), String> {
    let file = dir.join("block.txt");
    let write = |shift: u32| std::fs::write(&file, block_file(shift)).map_err(|e| e.to_string());
    write(0)?;
    let parse = |forwards: u32| {
        parvis::config::parse(&config_text(&file, forwards)).map_err(|e| e.to_string())
    };
    let t0 = Instant::now();
    let base = parse(FORWARDS)?;
    let parse_time = t0.elapsed();
    let more = parse(FORWARDS + 1)?;
    write(1)?;
    let moved = parse(FORWARDS)?;
    let t0 = Instant::now();
    let rs = parvis::firewall::render(&base);
    let json = rs.to_json();
    let render_time = t0.elapsed();
    let text = [listing(&base)?, listing(&more)?, listing(&moved)?];
    // The direct change loads are `nft delete table` then `nft -j -f`,
    // timed together; each starts from the base table loaded from nothing
    // (loading the base JSON over a loaded table fails with "File exists":
    // its set elements are there already).
    let replace = |c: &parvis::config::Config| parvis::firewall::render(c).to_json();
    let (json_more, json_moved) = (replace(&more), replace(&moved));

    let (mut full, mut fwd, mut list, mut check) = Default::default();
    for _ in 0..ROUNDS {
        round(
            &mut full,
            &mut fwd,
            &mut list,
            &mut check,
            &[&base, &more, &moved],
            &json,
            [&json_more, &json_moved],
            &text,
        )?;
    }
    delete_table();
    println!("firewall apply: {FORWARDS} forwards, {BLOCKED} blocked prefixes (limits.block_file) -> {} rules, {} sets; medians of {ROUNDS} rounds, ms", rs.rules.len(), rs.sets.len());
    println!(
        "parse + validate (reads the block file): {:.1} ms; render + serialise: {:.1} ms",
        ms(parse_time),
        ms(render_time)
    );
    println!(
        "{:<44} {:>9} {:>11} {:>9}",
        "scenario", "parvis", "nft -j -f", "nft -f"
    );
    print_row("full apply, empty namespace", &mut full);
    print_row("one forward added, 50k list unchanged", &mut fwd);
    print_row("block list changed (one prefix)", &mut list);
    print_row("check (nft -c) of the forward change", &mut check);
    println!("nft columns: the same ruleset loaded directly (for the changes: nft delete table, then the load)");
    Ok(())
}

type Cfg<'a> = &'a parvis::config::Config;

#[allow(clippy::too_many_arguments)]
fn round(
    full: &mut Row,
    fwd: &mut Row,
    list: &mut Row,
    check: &mut Row,
    cfgs: &[Cfg<'_>; 3],
    json: &str,
    changed: [&str; 2],
    text: &[String; 3],
) -> Result<(), String> {
    let [base, more, moved] = *cfgs;
    delete_table();
    full.parvis.push(timed(|| apply(base))?);
    check.parvis.push(timed(|| {
        parvis::firewall::check(more).map_err(|e| e.to_string())
    })?);
    fwd.parvis.push(timed(|| apply(more))?);
    apply(base)?;
    list.parvis.push(timed(|| apply(moved))?);
    delete_table();
    full.json.push(timed(|| nft_json(json))?);
    fwd.json.push(timed(|| {
        delete_table();
        nft_json(changed[0])
    })?);
    // The base table again (from nothing) before the list change.
    delete_table();
    nft_json(json)?;
    list.json.push(timed(|| {
        delete_table();
        nft_json(changed[1])
    })?);
    delete_table();
    full.text.push(timed(|| nft_text(&text[0]))?);
    fwd.text.push(timed(|| {
        delete_table();
        nft_text(&text[1])
    })?);
    delete_table();
    nft_text(&text[0])?;
    list.text.push(timed(|| {
        delete_table();
        nft_text(&text[2])
    })?);
    Ok(())
}

fn print_row(name: &str, r: &mut Row) {
    let m = |v: &mut Vec<Duration>| {
        if v.is_empty() {
            "-".to_string()
        } else {
            format!("{:.1}", ms(median(v)))
        }
    };
    println!(
        "{name:<44} {:>9} {:>11} {:>9}",
        m(&mut r.parvis),
        m(&mut r.json),
        m(&mut r.text)
    );
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

/// Deletes `table inet parvis` if it is there; an error names what failed.
fn delete_table() {
    let listed = run(&["nft", "list", "tables"], None).unwrap_or_default();
    if listed.contains("table inet parvis") {
        if let Err(e) = run(&["nft", "delete", "table", "inet", "parvis"], None) {
            eprintln!("bench: delete table: {e}");
        }
    }
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
