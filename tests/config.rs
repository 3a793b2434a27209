//! Config fixtures and bad input, through the library and the real binary
//! (`parvis check --config FILE`). No root, no network: files only.
//!
//! - `tests/fixtures/config/valid/*.toml` and every `*.toml` under
//!   `examples/` must print `ok` and exit 0;
//! - each `tests/fixtures/config/invalid/NAME.toml` must print exactly
//!   `NAME.expected` and exit 2;
//! - unreadable or malformed input gives one line and exit 2, never a panic
//!   or a Rust debug dump.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures(kind: &str) -> PathBuf {
    root().join("tests/fixtures/config").join(kind)
}

/// Every `*.toml` under `dir`, recursively, sorted.
fn tomls(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "toml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn check(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parvis"))
        .args(["check", "--config"])
        .arg(path)
        .output()
        .expect("run parvis check")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts one clean problem line on stdout, nothing on stderr, exit 2.
fn assert_one_clean_line(path: &Path, must_contain: &str) -> String {
    let out = check(path);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let all = format!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(2), "{}: {all}", path.display());
    assert_eq!(stdout.lines().count(), 1, "{}: {all}", path.display());
    assert!(stderr.is_empty(), "{}: stderr {stderr:?}", path.display());
    for debug in [
        "panicked",
        "Error {",
        "RUST_BACKTRACE",
        "FileConfig",
        "untagged",
    ] {
        assert!(!all.contains(debug), "{}: {all}", path.display());
    }
    assert!(
        stdout.contains(must_contain),
        "{}: {stdout:?} lacks {must_contain:?}",
        path.display()
    );
    stdout
}

#[test]
fn valid_fixtures_parse() {
    let files = tomls(&fixtures("valid"));
    assert!(files.len() >= 6, "only {} valid fixtures", files.len());
    for f in files {
        if let Err(e) = parvis::config::load(&f) {
            panic!("{}:\n{e}", f.display());
        }
    }
}

#[test]
fn valid_fixtures_and_examples_pass_check() {
    let mut files = tomls(&fixtures("valid"));
    files.extend(tomls(&root().join("examples")));
    assert!(files.iter().any(|f| f.ends_with("examples/parvis.toml")));
    for f in files {
        let out = check(&f);
        assert_eq!(
            (out.status.code(), text(&out.stdout).as_str()),
            (Some(0), "ok\n"),
            "{}: {}{}",
            f.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn invalid_fixtures_print_exactly_their_expected_text() {
    let files = tomls(&fixtures("invalid"));
    assert!(files.len() >= 20, "only {} invalid fixtures", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let expected_path = f.with_extension("expected");
        let expected = fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let out = check(f);
        let got = text(&out.stdout);
        if out.status.code() != Some(2) || got != expected || !out.stderr.is_empty() {
            failures.push(format!(
                "{} (exit {:?})\n--- expected\n{expected}--- got\n{got}{}",
                f.display(),
                out.status.code(),
                text(&out.stderr)
            ));
        }
        // The library says the same as the binary.
        match parvis::config::load(f) {
            Ok(_) => failures.push(format!("{}: the library accepts it", f.display())),
            Err(e) if format!("{e}\n") != expected => {
                failures.push(format!("{}: the library says\n{e}", f.display()));
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_expected_file_has_its_fixture() {
    for entry in fs::read_dir(fixtures("invalid")).expect("invalid fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "expected") {
            assert!(
                path.with_extension("toml").is_file(),
                "{} has no .toml",
                path.display()
            );
        }
    }
}

#[test]
fn bad_input_gives_one_clean_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &[u8], &str); 6] = [
        ("not-toml", b"listener: [https]\n", "line 1: not valid TOML"),
        ("empty", b"", "the config is empty"),
        ("blank", b"\n   \n\t\n", "the config is empty"),
        (
            "unknown-key",
            b"[[forward]]\nport = 22\nto = \"10.0.0.1\"\ncolour = \"red\"\n",
            "line 4: forward[0].colour: unknown key `colour`",
        ),
        (
            "wrong-type",
            b"[[listener]]\nname = \"a\"\nbind = \"0.0.0.0:443\"\nprotocol = \"tls\"\nmax_connections = -5\n",
            "line 5: listener[0].max_connections: expected a whole number",
        ),
        ("not-utf8", b"name = \"\xff\xfe\"\n", "it is not UTF-8 text"),
    ];
    for (name, content, expect) in cases {
        let path = dir.path().join(format!("{name}.toml"));
        fs::write(&path, content).expect("write");
        assert_one_clean_line(&path, expect);
    }
    let missing = dir.path().join("missing.toml");
    let line = assert_one_clean_line(&missing, "no such file");
    assert_eq!(
        line,
        format!("cannot read {}: no such file\n", missing.display())
    );
    assert_one_clean_line(dir.path(), "it is a directory");
}

#[test]
fn unreadable_file_gives_one_clean_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let path = dir.path().join("secret.toml");
    fs::write(&path, "[[forward]]\nport = 22\nto = \"10.0.0.1\"\n").expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).expect("chmod");
    let out = if fs::read(&path).is_err() {
        check(&path)
    } else {
        // Root reads anything: run the check as `nobody` so the kernel refuses.
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_parvis"))
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .expect("run setpriv (util-linux)")
    };
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("cannot read {}: permission denied\n", path.display())
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    // A path through a regular file is unreadable for root too.
    assert_one_clean_line(
        &path.join("x.toml"),
        "a part of the path is not a directory",
    );
}

#[test]
fn missing_config_argument_is_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_parvis"))
        .arg("check")
        .output()
        .expect("run parvis check");
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("panicked"));
}

/// A 1 MB config of about 18,000 forwards, each with a problem: locating
/// the problems and checking for port clashes used to compare every pair
/// (4 min 27 s here in a debug build); now about linear (a few seconds).
/// The bound is generous: it only catches a quadratic walk.
#[test]
fn a_megabyte_of_problems_is_checked_in_linear_time() {
    let mut config = String::from(
        "[[listener]]\nname = \"h\"\nbind = \"0.0.0.0:443\"\nprotocol = \"tls\"\ndefault_backend = \"b\"\n[backend.b]\nservers = [\"10.0.0.11:443\"]\n",
    );
    let mut n = 0;
    while config.len() < 1_000_000 {
        let port = 10_000 + n % 50_000;
        config.push_str(&format!(
            "[[forward]]\nproto = \"tcp\"\nport = {port}\nto = \"bad-{n}\"\n"
        ));
        n += 1;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.toml");
    fs::write(&path, &config).expect("write");
    let started = std::time::Instant::now();
    let out = check(&path);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), n, "one line per problem");
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("line ")),
        "every problem located"
    );
    eprintln!("{n} problems in a 1 MB config: checked in {took:?}");
    assert!(took < std::time::Duration::from_secs(60), "took {took:?}");
}
