//! `docs/terraform`: the config template renders, with the values
//! `main.tf` passes, into a config that `parvis check` accepts and whose
//! site-specific values (admin allow-list, backends, name) come from the
//! variables, not from the template. Renders `${name}` and
//! `${jsonencode(name)}` as Terraform's `templatefile` does (the only forms
//! the template uses; any other `${`/`%{` fails the test). No root needed.

use std::collections::BTreeMap;
use std::process::Command;

const TEMPLATE: &str = include_str!("../docs/terraform/parvis.toml.tftpl");
const MAIN_TF: &str = include_str!("../docs/terraform/main.tf");

/// The keys of the map `main.tf` gives `templatefile`.
fn passed_keys() -> Vec<String> {
    let start = MAIN_TF
        .find("templatefile(")
        .expect("main.tf calls templatefile");
    let body = &MAIN_TF[start..];
    let end = body.find("})").expect("the map ends");
    body[..end]
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect()
}

/// Renders the template; `Err` names a placeholder it cannot render.
fn render(vars: &BTreeMap<&str, serde_json::Value>) -> Result<String, String> {
    if TEMPLATE.contains("%{") {
        return Err("template directives are not rendered by this test".into());
    }
    let mut out = String::new();
    let mut rest = TEMPLATE;
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
    let dir = std::env::temp_dir().join(format!("pv-tf-{}", std::process::id()));
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
