//! `ha.key` and `ha.neutron.application_credential_secret` never leave the
//! appliance through the operator's views: the config text they show has
//! them replaced by [`MASK`] ([`redact`]), and a
//! text edited from such a view gets the running key back ([`restore`])
//! so that saving it does not break the pair. Pure.

use toml_edit::{DocumentMut, Item, Value};

/// What the key reads as in a redacted text ([`crate::config::REDACTED`]):
/// plainly not a key. A redacted text does not pass the config's checks
/// (the key is named), so it is never applied with the mask as the key;
/// [`restore`] puts the running key back into a text edited from a view.
pub const MASK: &str = crate::config::REDACTED;

/// `text` with the value of `[ha] key` replaced by [`MASK`] (formatting
/// and comments kept). A text that does not parse has every line that
/// sets a `key` masked instead.
pub fn redact(text: &str) -> String {
    let Ok(mut doc) = text.parse::<DocumentMut>() else {
        return redact_lines(text);
    };
    let mut changed = false;
    for which in SECRETS {
        if let Some(v) = secret_slot(&mut doc, which).and_then(Item::as_value_mut) {
            let decor = v.decor().clone();
            let mut masked = Value::from(MASK);
            *masked.decor_mut() = decor;
            *v = masked;
            changed = true;
        }
    }
    if changed {
        doc.to_string()
    } else {
        text.to_string()
    }
}

/// The secrets masked: `ha.key`, `ha.neutron.application_credential_secret`.
const SECRETS: [Secret; 2] = [Secret::HaKey, Secret::Credential];

#[derive(Clone, Copy)]
enum Secret {
    HaKey,
    Credential,
}

/// `edited` with a masked `ha.key` replaced by the key in `running`; any
/// other text unchanged.
pub fn restore(edited: &str, running: &str) -> String {
    let Ok(mut doc) = edited.parse::<DocumentMut>() else {
        return edited.to_string();
    };
    let Ok(mut old) = running.parse::<DocumentMut>() else {
        return edited.to_string();
    };
    let mut changed = false;
    for which in SECRETS {
        let masked = secret_slot(&mut doc, which).is_some_and(|s| s.as_str() == Some(MASK));
        let real = secret_slot(&mut old, which).and_then(|s| s.as_str().map(str::to_string));
        let (true, Some(real)) = (masked, real) else {
            continue;
        };
        if let Some(v) = secret_slot(&mut doc, which).and_then(Item::as_value_mut) {
            let decor = v.decor().clone();
            let mut back = Value::from(real);
            *back.decor_mut() = decor;
            *v = back;
            changed = true;
        }
    }
    if changed {
        doc.to_string()
    } else {
        edited.to_string()
    }
}

fn secret_slot(doc: &mut DocumentMut, which: Secret) -> Option<&mut Item> {
    let ha = doc.get_mut("ha")?.as_table_like_mut()?;
    match which {
        Secret::HaKey => ha.get_mut("key"),
        Secret::Credential => ha
            .get_mut("neutron")?
            .as_table_like_mut()?
            .get_mut("application_credential_secret"),
    }
}

fn redact_lines(text: &str) -> String {
    let mut out: String = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            let key = ["key", "application_credential_secret"]
                .into_iter()
                .find(|k| {
                    t.strip_prefix(k)
                        .is_some_and(|r| r.trim_start().starts_with('='))
                });
            if let Some(key) = key {
                format!("{key} = \"{MASK}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[appliance]\nname = \"x\"\n\n[ha]\nvrid = 51\nkey = \"0123456789abcdef-secret\" # the pair's\nsync_port = 7443\n";

    #[test]
    fn the_key_is_masked_and_the_rest_kept() {
        let r = redact(TEXT);
        assert!(!r.contains("secret"), "{r}");
        assert!(r.contains(&format!("key = \"{MASK}\" # the pair's")), "{r}");
        assert!(r.contains("vrid = 51") && r.contains("name = \"x\""), "{r}");
        let inline = "ha = { key = \"0123456789abcdef-secret\", vrid = 1 }\n";
        assert!(!redact(inline).contains("secret"));
        assert!(!redact("[ha\nkey = \"0123456789abcdef-secret\"\n").contains("secret"));
        assert_eq!(
            redact("[appliance]\nname = \"x\"\n"),
            "[appliance]\nname = \"x\"\n"
        );
    }

    #[test]
    fn a_redacted_config_is_refused_naming_the_key() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/config/valid/ha-pair.toml"
        ))
        .unwrap_or_default();
        assert!(text.contains("key ="), "the fixture has an inline key");
        assert!(crate::config::parse(&text).is_ok(), "the fixture is valid");
        let r = redact(&text);
        assert_ne!(r, text);
        let err = crate::config::parse(&r).expect_err("a masked key is refused");
        assert!(
            err.problems
                .iter()
                .any(|p| p.path == "ha.key" && p.message.contains("masked")),
            "{err}"
        );
        assert!(crate::config::parse(&restore(&r, &text)).is_ok());
    }

    #[test]
    fn the_application_credential_secret_is_masked_and_restored() {
        let text = "[ha]\nkey = \"0123456789abcdef-secret\"\n[ha.neutron]\napplication_credential_secret = \"cred-s3cret\"\n";
        let r = redact(text);
        assert!(!r.contains("secret\"") && !r.contains("cred-s3cret"), "{r}");
        assert_eq!(restore(&r, text), text);
        assert!(
            !redact("[ha.neutron\napplication_credential_secret = \"cred-s3cret\"\n")
                .contains("s3cret")
        );
    }

    #[test]
    fn a_masked_key_gets_the_running_one_back() {
        let edited = redact(TEXT).replace("vrid = 51", "vrid = 52");
        let back = restore(&edited, TEXT);
        assert_eq!(back, TEXT.replace("vrid = 51", "vrid = 52"));
        let other = TEXT.replace("0123456789abcdef-secret", "a-new-key-of-enough-length");
        assert_eq!(restore(&other, TEXT), other);
    }
}
