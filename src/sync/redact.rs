//! `ha.key` never leaves the appliance through the operator's views: the
//! config text they show has it replaced by `"***"` ([`redact`]), and a
//! text edited from such a view gets the running key back ([`restore`])
//! so that saving it does not break the pair. Pure.

use toml_edit::{DocumentMut, Item, Value};

/// What the key reads as in a redacted text: long enough to pass the
/// config's checks, so a redacted text still parses (the UI's pages read
/// the running config from it), and plainly not a key.
pub const MASK: &str = "********************************";

/// `text` with the value of `[ha] key` replaced by [`MASK`] (formatting
/// and comments kept). A text that does not parse has every line that
/// sets a `key` masked instead.
pub fn redact(text: &str) -> String {
    let Ok(mut doc) = text.parse::<DocumentMut>() else {
        return redact_lines(text);
    };
    let Some(slot) = key_slot(&mut doc) else {
        return text.to_string();
    };
    if let Some(v) = slot.as_value_mut() {
        let decor = v.decor().clone();
        let mut masked = Value::from(MASK);
        *masked.decor_mut() = decor;
        *v = masked;
    }
    doc.to_string()
}

/// `edited` with a masked `ha.key` replaced by the key in `running`; any
/// other text unchanged.
pub fn restore(edited: &str, running: &str) -> String {
    let Ok(mut doc) = edited.parse::<DocumentMut>() else {
        return edited.to_string();
    };
    let masked = key_slot(&mut doc).is_some_and(|s| s.as_str() == Some(MASK));
    if !masked {
        return edited.to_string();
    }
    let Ok(mut old) = running.parse::<DocumentMut>() else {
        return edited.to_string();
    };
    let Some(key) = key_slot(&mut old).and_then(|s| s.as_str().map(str::to_string)) else {
        return edited.to_string();
    };
    if let Some(v) = key_slot(&mut doc).and_then(Item::as_value_mut) {
        let decor = v.decor().clone();
        let mut real = Value::from(key);
        *real.decor_mut() = decor;
        *v = real;
    }
    doc.to_string()
}

fn key_slot(doc: &mut DocumentMut) -> Option<&mut Item> {
    doc.get_mut("ha")?.as_table_like_mut()?.get_mut("key")
}

fn redact_lines(text: &str) -> String {
    let mut out: String = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            let is_key = t
                .strip_prefix("key")
                .is_some_and(|r| r.trim_start().starts_with('='));
            if is_key {
                format!("key = \"{MASK}\"")
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
    fn a_redacted_config_still_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/config/valid/ha-pair.toml"
        ))
        .unwrap_or_default();
        assert!(text.contains("key ="), "the fixture has an inline key");
        let r = redact(&text);
        assert_ne!(r, text);
        assert!(crate::config::parse(&r).is_ok(), "{r}");
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
