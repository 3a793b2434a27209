//! The message catalogues agree (same keys, same placeholders), French
//! follows French typography outside code, and a real checker problem and
//! event come out in French with their key paths and values untouched.

use std::collections::BTreeSet;

use super::{msg_fr, Lang};
use crate::api::messages::{placeholders, templates};

fn keys(texts: &[(&str, &str)]) -> BTreeSet<String> {
    texts.iter().map(|(k, _)| k.to_string()).collect()
}

#[test]
fn both_message_catalogues_have_the_same_keys_once_each() {
    let (en, fr) = (keys(templates()), keys(msg_fr::TEXTS));
    let missing_fr: Vec<_> = en.difference(&fr).collect();
    let missing_en: Vec<_> = fr.difference(&en).collect();
    assert!(
        missing_fr.is_empty(),
        "missing in msg_fr.rs: {missing_fr:?}"
    );
    assert!(
        missing_en.is_empty(),
        "missing in api/messages/en.rs: {missing_en:?}"
    );
    assert_eq!(
        en.len(),
        templates().len(),
        "a key is listed twice in en.rs"
    );
    assert_eq!(
        fr.len(),
        msg_fr::TEXTS.len(),
        "a key is listed twice in msg_fr.rs"
    );
    assert!(en.len() > 150, "the catalogue is real: {}", en.len());
}

#[test]
fn both_message_languages_fill_the_same_placeholders() {
    for (k, e) in templates() {
        let f = msg_fr::TEXTS
            .iter()
            .find(|(fk, _)| fk == k)
            .map(|(_, t)| *t);
        let f = f.unwrap_or_else(|| panic!("{k} missing in French"));
        let (mut pe, mut pf) = (placeholders(e), placeholders(f));
        pe.sort_unstable();
        pf.sort_unstable();
        assert_eq!(pe, pf, "{k}: {e:?} / {f:?}");
    }
}

/// The text outside `code` spans and « quoted » values.
fn prose(t: &str) -> String {
    let outside_code: String = t.split('`').step_by(2).collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    let mut rest = outside_code.as_str();
    while let Some(open) = rest.find('«') {
        out.push_str(&rest[..open]);
        match rest[open..].find('»') {
            Some(close) => rest = &rest[open + close + '»'.len_utf8()..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn french_messages_follow_french_typography() {
    for (k, t) in msg_fr::TEXTS {
        // The `:PORT` of an address placeholder is not punctuation.
        let p = prose(t).replace(":PORT", "PORT");
        super::tests::assert_french_typography(k, t, &p);
    }
}

fn problem_at(text: &str, path: &str) -> String {
    let err = crate::config::parse(text).expect_err("the config is bad");
    let p = err.problems.iter().find(|p| p.path == path);
    p.unwrap_or_else(|| panic!("no problem at {path}: {err}"))
        .message
        .clone()
}

const BAD_FORWARD: &str = "[[forward]]\nport = 2222\nto = \"not an address\"\n";

#[test]
fn a_checker_problem_in_french_keeps_its_value() {
    let m = problem_at(BAD_FORWARD, "forward[0].to");
    assert_eq!(m, "\"not an address\" is not ADDRESS or ADDRESS:PORT");
    assert_eq!(
        Lang::Fr.message(&m),
        "&quot;not an address&quot; n’est pas de la forme ADRESSE ou ADRESSE:PORT"
    );
    assert_eq!(
        Lang::En.message(&m),
        "&quot;not an address&quot; is not ADDRESS or ADDRESS:PORT"
    );
}

#[test]
fn an_event_in_french_keeps_its_key_paths() {
    let err = crate::config::parse(BAD_FORWARD).expect_err("bad");
    let event = format!("refused an invalid config from ui 198.51.100.10: invalid config: {err}");
    let fr = Lang::Fr.message(&event);
    assert!(fr.starts_with("configuration invalide refusée, venant de ui 198.51.100.10\u{a0}: configuration invalide\u{a0}: ligne 3\u{a0}: forward[0].to\u{a0}: &quot;not an address&quot; n’est pas"), "{fr}");
    // Nested causes, several lines.
    let two = "version 4 rolled back to version 3: no confirmation by 12:00:00 UTC\nline 2: route[1].hosts[0]: \"*\" would match every name: use the listener's `default_backend` instead";
    let fr = Lang::Fr.message(two);
    assert_eq!(fr.lines().count(), 2, "{fr}");
    assert!(fr.contains("version 4 annulée, retour à la version 3\u{a0}: pas de confirmation avant 12:00:00 UTC"), "{fr}");
    assert!(
        fr.contains(
            "ligne 2\u{a0}: route[1].hosts[0]\u{a0}: &quot;*&quot; correspondrait à tous les noms"
        ),
        "{fr}"
    );
    // A text no template knows stays as written (escaped).
    assert_eq!(Lang::Fr.message("<something new>"), "&lt;something new&gt;");
}

#[test]
fn the_message_texts_are_json_and_french_only() {
    let fr: serde_json::Value = serde_json::from_str(&Lang::Fr.message_texts()).expect("json");
    assert_eq!(fr["check.missing_port"], "`port` manquant");
    assert!(!Lang::Fr.message_texts().contains('<'));
    assert_eq!(Lang::En.message_texts(), "{}");
}

#[test]
fn an_applys_changes_are_translated_one_by_one() {
    let event = "version 3 applied by ui:admin 127.0.0.1: routes of listener https: +ajoutee.example.org → ingress-https; backend web: server 10.0.0.5:443 added; listener https: idle_timeout 10m → 5m";
    assert_eq!(
        Lang::Fr.message(event),
        "version 3 appliquée par ui:admin 127.0.0.1\u{a0}: routes du listener https\u{a0}: +ajoutee.example.org → ingress-https\u{202f}; backend web\u{a0}: serveur 10.0.0.5:443 ajouté\u{202f}; listener https\u{a0}: idle_timeout 10m → 5m"
    );
    let k = crate::api::messages::classify(event).expect("keyed");
    assert_eq!(k.english(), event);
}

#[test]
fn a_forms_refusal_is_translated_with_its_values() {
    let e = crate::api::ApiError::field("addr", "\"x\" is not an IP address");
    assert_eq!(
        Lang::Fr.message(&e.message),
        "addr\u{a0}: &quot;x&quot; n’est pas une adresse IP"
    );
    let none = "backend \"k8s\" has no server 10.0.0.9:443 (its servers: 10.0.0.11:443)";
    assert_eq!(
        Lang::Fr.message(none),
        "le backend &quot;k8s&quot; n’a pas de serveur 10.0.0.9:443 (ses serveurs\u{a0}: 10.0.0.11:443)"
    );
}

#[test]
fn a_token_forms_refusal_is_translated_with_its_values() {
    let taken = crate::api::tokens::TokenError::Token(
        "a token named \"ci\" exists; revoke it first".into(),
    )
    .to_string();
    assert_eq!(
        Lang::Fr.message(&taken),
        "jeton\u{a0}: un jeton nommé &quot;ci&quot; existe déjà\u{202f}; révoquez-le d’abord"
    );
    let unknown = "token: no token named \"x\"";
    assert_eq!(
        Lang::Fr.message(unknown),
        "jeton\u{a0}: aucun jeton nommé &quot;x&quot;"
    );
    assert_eq!(
        Lang::En.message(unknown),
        "token: no token named &quot;x&quot;"
    );
}
