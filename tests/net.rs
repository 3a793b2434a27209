//! Owning the two ports, as root in namespaces these tests create: `parvis
//! net plan` with a config-drive folder must put each role on the right NIC,
//! do nothing the second time, see carrier changes, and refuse bad input
//! without touching a link. Metadata sources are in `net_metadata.rs`.

mod net_rig;
mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use net_rig::*;
use parvis::lab::ChildGuard;

#[test]
fn config_drive_puts_each_role_on_its_nic_and_a_second_run_changes_nothing() {
    let rig = rig("cd");
    let dir = rig.dir.path().to_string_lossy().into_owned();
    let out = net_plan(&rig, &["--metadata", &dir]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!(
            "# public: {} ({PUB_MAC}) by OpenStack device tag",
            rig.public
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("ip addr add 10.0.0.1/24 dev {}", rig.internal)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "ip route add default via 192.168.10.1 dev {}",
            rig.public
        )),
        "{stdout}"
    );
    assert_configured(&rig);

    let before = json(rig.app(), &["addr"]);
    let again = net_plan(&rig, &["--metadata", &dir]);
    let stdout = text(&again.stdout);
    assert!(again.status.success(), "{stdout}\n{}", text(&again.stderr));
    assert!(!stdout.lines().any(|l| l.starts_with("ip ")), "{stdout}");
    assert!(stdout.contains("# nothing to change"), "{stdout}");
    assert_eq!(json(rig.app(), &["addr"]), before);
}

#[test]
fn dry_run_prints_the_plan_and_touches_nothing() {
    let rig = rig("dry");
    let dir = rig.dir.path().to_string_lossy().into_owned();
    let before = json(rig.app(), &["addr"]);
    let out = net_plan(&rig, &["--metadata", &dir, "--dry-run"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("ip link set dev {} up", rig.public)),
        "{stdout}"
    );
    assert!(stdout.contains("# dry run: nothing applied"), "{stdout}");
    assert_eq!(json(rig.app(), &["addr"]), before);
}

/// Reads the child's stdout lines into a channel.
fn lines_of(child: &mut ChildGuard) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let Some(stdout) = child.child_mut().stdout.take() else {
        panic!("no stdout");
    };
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_line(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, want: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let hit = line.contains(want);
                seen.push(line);
                if hit {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn a_carrier_change_shows_in_the_live_state() {
    let rig = rig("watch");
    let dir = rig.dir.path().to_string_lossy().into_owned();
    assert!(net_plan(&rig, &["--metadata", &dir]).status.success());
    let mut cmd = rig.app().command(&support::parvis_exe().to_string_lossy());
    cmd.args([
        "net",
        "plan",
        "--metadata",
        &dir,
        "--watch",
        "6",
        "--config",
    ])
    .arg(rig.dir.path().join("parvis.toml"))
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = match ChildGuard::spawn(cmd) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let rx = lines_of(&mut child);
    let mut seen = Vec::new();
    assert!(wait_line(&rx, &mut seen, "# watching"), "{seen:#?}");
    ip(rig.lab.switch(), &["link", "set", INTERNAL_PEER, "down"]);
    let down = format!("event: {} (internal): carrier down", rig.internal);
    assert!(wait_line(&rx, &mut seen, &down), "{seen:#?}");
    ip(rig.lab.switch(), &["link", "set", INTERNAL_PEER, "up"]);
    let up = format!("event: {} (internal): carrier up (state UP)", rig.internal);
    assert!(wait_line(&rx, &mut seen, &up), "{seen:#?}");
    // The final snapshot lists both roles with MAC, state, MTU, addresses, counters.
    let state = format!(
        "link: {} public {PUB_MAC} UP carrier=up mtu 1450 [192.168.10.5/24",
        rig.public
    );
    assert!(wait_line(&rx, &mut seen, &state), "{seen:#?}");
    assert!(
        seen.iter()
            .any(|l| l.contains(" rx ") && l.contains(" tx ")),
        "{seen:#?}"
    );
}

/// Runs a plan that must fail with exit 2 and `wants` in stderr, and checks
/// that no link, address or route changed.
fn refused(rig: &Rig, wants: &[&str]) {
    let snapshot = |rig: &Rig| (json(rig.app(), &["addr"]), json(rig.app(), &["route"]));
    let before = snapshot(rig);
    let dir = rig.dir.path().to_string_lossy().into_owned();
    let out = net_plan(rig, &["--metadata", &dir]);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stderr}\n{}",
        text(&out.stdout)
    );
    for want in wants {
        assert!(stderr.contains(want), "missing {want:?} in: {stderr}");
    }
    assert!(!text(&out.stdout).lines().any(|l| l.starts_with("ip ")));
    assert_eq!(snapshot(rig), before, "a refused plan changed the system");
}

#[test]
fn bad_input_is_refused_and_no_link_is_touched() {
    let rig = rig("bad");
    let d = rig.dir.path();
    write_drive(d, false, &network_data());
    set_config(&rig, "[interfaces.public]\nmac = \"fa:16:3e:99:99:99\"\n[interfaces.internal]\nmac = \"fa:16:3e:5a:00:02\"");
    refused(
        &rig,
        &[
            "interfaces.public.mac = fa:16:3e:99:99:99 matches no NIC",
            &format!("{} ({PUB_MAC})", rig.public),
            &format!("{} ({INT_MAC})", rig.internal),
        ],
    );

    // One device tagged with both roles.
    set_config(&rig, "[interfaces.public]\n[interfaces.internal]");
    let both =
        meta_data(true).replace(r#""tags": ["public"]"#, r#""tags": ["public", "internal"]"#);
    let both = both.replace(r#""tags": ["internal"]"#, r#""tags": []"#);
    write(&d.join("openstack/latest/meta_data.json"), &both);
    refused(
        &rig,
        &[
            &format!("NIC {} ({PUB_MAC}) would be both public", rig.public),
            "expected two different NICs",
        ],
    );

    set_config(&rig, "[interfaces.public]\n[interfaces.internal]");
    write_drive(d, true, "this is { not JSON");
    refused(
        &rig,
        &[
            "openstack/latest/network_data.json is not JSON",
            "expected a JSON object",
        ],
    );

    write_drive(d, true, r#"{"networks": [], "services": []}"#);
    refused(
        &rig,
        &[
            "network_data.json: expected a JSON object with `links`",
            "missing field `links`",
        ],
    );

    write_drive(d, true, &network_data());
    ip(rig.app(), &["link", "del", &rig.internal]);
    refused(
        &rig,
        &[
            "expected 2 NICs",
            &format!("found 1: {} ({PUB_MAC})", rig.public),
        ],
    );
}

#[test]
fn a_netlink_failure_names_the_operation_in_ip_terms() {
    let rig = rig("nlerr");
    set_config(
        &rig,
        &format!(
            "[interfaces.internal]\nname = \"{}\"\nroutes = [{{ to = \"10.99.0.0/16\", via = \"172.16.0.1\" }}]",
            rig.internal
        ),
    );
    let dir = rig.dir.path().to_string_lossy().into_owned();
    let out = net_plan(&rig, &["--metadata", &dir]);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stderr}\n{}",
        text(&out.stdout)
    );
    let op = format!(
        "parvis: ip route add 10.99.0.0/16 via 172.16.0.1 dev {}: Network is unreachable",
        rig.internal
    );
    assert!(stderr.contains(&op), "{stderr}");
}
