//! `docs/terraform`: the config template renders, with the values
//! `main.tf` passes, into a config that `parvis check` accepts and whose
//! site-specific values (admin allow-list, backends, name) come from the
//! variables, not from the template. Renders `${name}` and
//! `${jsonencode(name)}` as Terraform's `templatefile` does, and whole-line
//! `%{ if name == "value" ~}` / `%{ endif ~}` (the only forms the templates
//! use; any other `${`/`%{` fails the test). The same for the pair
//! (`docs/terraform/pair`) in both HA modes. No root needed.

use std::collections::BTreeMap;
use std::process::Command;

const TEMPLATE: &str = include_str!("../docs/terraform/parvis.toml.tftpl");
const MAIN_TF: &str = include_str!("../docs/terraform/main.tf");
const PAIR_TEMPLATE: &str = include_str!("../docs/terraform/pair/parvis-pair.toml.tftpl");
const PAIR_TF: &str = include_str!("../docs/terraform/pair/main.tf");

/// The keys of the map `main.tf` gives `templatefile`.
fn passed_keys() -> Vec<String> {
    keys_in(MAIN_TF)
}

fn keys_in(main_tf: &str) -> Vec<String> {
    let start = main_tf
        .find("templatefile(")
        .expect("main.tf calls templatefile");
    let body = &main_tf[start..];
    let end = body.find("})").expect("the map ends");
    body[..end]
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect()
}

/// Renders the template; `Err` names a placeholder it cannot render.
fn render(vars: &BTreeMap<&str, serde_json::Value>) -> Result<String, String> {
    render_in(TEMPLATE, vars)
}

/// Keeps the lines whose `%{ if name == "value" ~}` holds, drops the
/// directive lines; any other directive is an error.
fn directives(template: &str, vars: &BTreeMap<&str, serde_json::Value>) -> Result<String, String> {
    let mut out = String::new();
    let mut keep = vec![true];
    for line in template.lines() {
        let t = line.trim();
        if let Some(cond) = t.strip_prefix("%{ if ").and_then(|c| c.strip_suffix(" ~}")) {
            let (name, value) = cond.split_once(" == ").ok_or(format!("unsupported {t}"))?;
            let v = vars.get(name).ok_or(format!("no variable {name:?}"))?;
            let holds = v.as_str() == Some(value.trim_matches('"'));
            keep.push(holds && keep.last() == Some(&true));
        } else if t == "%{ endif ~}" {
            keep.pop();
            if keep.is_empty() {
                return Err("endif without if".into());
            }
        } else if t.contains("%{") {
            return Err(format!("template directive not rendered by this test: {t}"));
        } else if keep.last() == Some(&true) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

fn render_in(template: &str, vars: &BTreeMap<&str, serde_json::Value>) -> Result<String, String> {
    let text = directives(template, vars)?;
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('}').ok_or("unclosed ${")? + at;
        let expr = &rest[at + 2..end];
        let (name, json) = match expr.strip_prefix("jsonencode(") {
            Some(inner) => (inner.trim_end_matches(')'), true),
            None => (expr, false),
        };
        let value = vars.get(name).ok_or(format!("no variable {name:?}"))?;
        match (json, value) {
            (true, v) => out.push_str(&v.to_string()),
            (false, serde_json::Value::String(s)) => out.push_str(s),
            (false, v) => return Err(format!("{name} is not a string: {v}")),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn sample(admin: &str, https: &[&str], http: &[&str]) -> BTreeMap<&'static str, serde_json::Value> {
    BTreeMap::from([
        ("name", serde_json::json!("edge-7")),
        ("public_mac", serde_json::json!("fa:16:3e:00:00:01")),
        ("internal_mac", serde_json::json!("fa:16:3e:00:00:02")),
        ("admin_allow", serde_json::json!([admin])),
        ("https_servers", serde_json::json!(https)),
        ("http_servers", serde_json::json!(http)),
    ])
}

fn check(text: &str) -> (bool, String) {
    // One folder per call: the tests run in parallel.
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pv-tf-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("parvis.toml");
    std::fs::write(&file, text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_parvis"))
        .args(["check", "--config"])
        .arg(&file)
        .output()
        .expect("run parvis check");
    let _ = std::fs::remove_dir_all(&dir);
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

#[test]
fn main_tf_passes_every_placeholder_of_the_template() {
    let keys = passed_keys();
    let vars: BTreeMap<&str, serde_json::Value> = keys
        .iter()
        .map(|k| (k.as_str(), serde_json::json!([])))
        .collect();
    // Rendering with only main.tf's keys must find every placeholder.
    let missing = render(&vars).err().filter(|e| e.starts_with("no variable"));
    assert_eq!(missing, None, "main.tf passes {keys:?}");
    for key in ["admin_allow", "https_servers", "http_servers", "name"] {
        assert!(
            keys.iter().any(|k| k == key),
            "main.tf does not pass {key}: {keys:?}"
        );
    }
}

#[test]
fn rendered_config_passes_check_and_carries_the_variables() {
    for (admin, https, http) in [
        (
            "198.51.100.0/24",
            ["10.0.0.11:443", "10.0.0.12:443"],
            ["10.0.0.11:80", "10.0.0.12:80"],
        ),
        (
            "203.0.113.0/25",
            ["10.0.0.31:8443", "10.0.0.32:8443"],
            ["10.0.0.31:8080", "10.0.0.32:8080"],
        ),
    ] {
        let text = render(&sample(admin, &https, &http)).expect("renders");
        let (ok, said) = check(&text);
        assert!(
            ok,
            "parvis check refused the rendered config: {said}\n{text}"
        );
        assert_eq!(said.trim(), "ok");
        let cfg = parvis::config::parse(&text).expect("parses");
        let allow: Vec<String> = cfg.admin.allow.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            allow,
            vec![admin.to_string()],
            "admin.allow must be admin_cidr"
        );
        let servers: Vec<String> = cfg.backends["ingress-https"]
            .servers
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(servers, https.map(String::from).to_vec());
        assert_eq!(cfg.appliance.name, "edge-7");
    }
}

fn pair_sample(mode: &str) -> BTreeMap<&'static str, serde_json::Value> {
    let mut v = sample("198.51.100.0/24", &["10.0.0.11:443"], &["10.0.0.11:80"]);
    v.remove("public_mac");
    v.remove("internal_mac");
    for (k, val) in [
        ("vip_public", "192.168.10.4/24"),
        ("vip_internal", "10.0.0.1/24"),
        ("ha_key", "Zq3v8yWm1kP0cR7tL2sX9bN4dF6gH5jA0eU1iO8pQ3wE2rT7"),
        ("node_a_address", "10.0.0.2"),
        ("node_b_address", "10.0.0.3"),
        ("ha_mode", mode),
        ("auth_url", "https://auth.cloud.ovh.net/v3"),
        ("app_cred_id", "0c2f5d1e9b8a4c7d8e6f5a4b3c2d1e0f"),
        ("app_cred_secret", "tf-rendered-secret"),
        ("floating_ip_id", "5b7e0d6a-4c1f-4c7e-9a51-0f1d2c3b4a10"),
        ("port_a", "a1a1a1a1-0000-4000-8000-00000000000a"),
        ("port_b", "b2b2b2b2-0000-4000-8000-00000000000b"),
    ] {
        v.insert(k, serde_json::json!(val));
    }
    v
}

#[test]
fn pair_main_tf_passes_every_placeholder_and_builds_the_pair() {
    let keys = keys_in(PAIR_TF);
    let vars: BTreeMap<&str, serde_json::Value> = keys
        .iter()
        .map(|k| (k.as_str(), serde_json::json!("neutron")))
        .collect();
    let missing = render_in(PAIR_TEMPLATE, &vars)
        .err()
        .filter(|e| e.starts_with("no variable"));
    assert_eq!(missing, None, "pair/main.tf passes {keys:?}");
    for needed in [
        "policies = [\"anti-affinity\"]",
        "ip_address = \"${local.vip_public}/32\"",
        "ip_address = \"${local.vip_internal}/32\"",
        "port_id = openstack_networking_port_v2.vip_public.id",
        "protocol          = \"112\"",
        "remote_group_id   = openstack_networking_secgroup_v2.pair.id",
        "path    = \"/v2.0/floatingips/*\"",
        "ignore_changes = [port_id, fixed_ip]",
    ] {
        assert!(PAIR_TF.contains(needed), "pair/main.tf lacks {needed}");
    }
}

#[test]
fn pair_config_passes_check_in_both_modes() {
    for mode in ["vrrp", "neutron"] {
        let text = render_in(PAIR_TEMPLATE, &pair_sample(mode)).expect("renders");
        let (ok, said) = check(&text);
        assert!(ok, "parvis check refused the {mode} pair: {said}\n{text}");
        let ha = parvis::config::parse(&text)
            .expect("parses")
            .ha
            .expect("[ha]");
        assert_eq!(format!("{:?}", ha.mode).to_lowercase(), mode);
        assert_eq!(ha.nodes[1].address.to_string(), "10.0.0.3");
        match ha.neutron {
            Some(n) => {
                assert_eq!(mode, "neutron");
                assert_eq!(n.ports["b"], "b2b2b2b2-0000-4000-8000-00000000000b");
                assert_eq!(n.floating_ip, "5b7e0d6a-4c1f-4c7e-9a51-0f1d2c3b4a10");
            }
            None => assert_eq!(mode, "vrrp"),
        }
    }
}
