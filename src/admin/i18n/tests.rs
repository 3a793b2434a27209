//! The catalogues agree (same keys, same placeholders), French follows
//! French typography, and every page rendered in French keeps no English
//! text and no untranslated key.

use std::collections::BTreeSet;

use super::{en, fr, negotiate, pick, translate, Lang};
use crate::admin::render;
use crate::api::{
    ApiError, BackendView, BanScopeView, BanView, ConnLogFilter, ConnView, EventView, LinkView,
    ListenerView, PendingView, RouteView, RuleCounterView, RulesetView, ServerView, StatusView,
    VersionState, VersionView,
};

fn keys(texts: &'static [(&'static str, &'static str)]) -> Vec<&'static str> {
    let mut k: Vec<&str> = texts.iter().map(|(k, _)| *k).collect();
    k.sort_unstable();
    k
}

fn placeholders(text: &str) -> BTreeSet<String> {
    text.split('{')
        .skip(1)
        .filter_map(|p| p.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

#[test]
fn both_catalogues_have_the_same_keys_once_each() {
    let (e, f) = (keys(en::TEXTS), keys(fr::TEXTS));
    let missing_fr: Vec<_> = e.iter().filter(|k| !f.contains(k)).collect();
    let missing_en: Vec<_> = f.iter().filter(|k| !e.contains(k)).collect();
    assert!(missing_fr.is_empty(), "missing in fr.rs: {missing_fr:?}");
    assert!(
        missing_en.is_empty(),
        "missing in en.rs (extra in fr.rs): {missing_en:?}"
    );
    for list in [&e, &f] {
        let set: BTreeSet<_> = list.iter().collect();
        assert_eq!(set.len(), list.len(), "a key is listed twice");
    }
    for (k, t) in en::TEXTS.iter().chain(fr::TEXTS) {
        assert!(!t.trim().is_empty(), "{k} is empty");
    }
}

#[test]
fn both_languages_fill_the_same_placeholders() {
    for (k, e) in en::TEXTS {
        let f = Lang::Fr.t(k);
        assert_eq!(placeholders(e), placeholders(f), "{k}: {e:?} / {f:?}");
    }
}

#[test]
fn french_follows_french_typography() {
    for (k, t) in fr::TEXTS {
        assert_french_typography(k, t, t);
    }
}

/// Fails unless `prose` (of the text `t` of key `k`) has a no-break space
/// before « : », a narrow one before « ; ? ! », and French apostrophes
/// and quotes.
pub(super) fn assert_french_typography(k: &str, t: &str, prose: &str) {
    for (i, c) in prose.char_indices() {
        let before = prose[..i].chars().last();
        if c == ':' {
            assert_eq!(
                before,
                Some('\u{a0}'),
                "{k}: no-break space before « : » in {t:?}"
            );
        }
        if matches!(c, ';' | '?' | '!') {
            assert_eq!(
                before,
                Some('\u{202f}'),
                "{k}: narrow no-break space before « {c} »"
            );
        }
    }
    assert!(
        !prose.contains('\''),
        "{k}: the French apostrophe is ’ ({t:?})"
    );
    assert!(!prose.contains('"'), "{k}: French quotes are « » ({t:?})");
}

#[test]
fn the_language_comes_from_the_query_then_the_cookie_then_the_browser() {
    assert_eq!(negotiate("fr-FR,fr;q=0.9,en;q=0.8"), Some(Lang::Fr));
    assert_eq!(negotiate("de-DE,en-GB;q=0.7,fr;q=0.5"), Some(Lang::En));
    assert_eq!(negotiate("en;q=0.2, fr-CH;q=0.9"), Some(Lang::Fr));
    assert_eq!(negotiate("fr;q=0, en"), Some(Lang::En));
    assert_eq!(negotiate("de, *"), None);
    assert_eq!(negotiate(";;,q=,;q=abc"), None);
    let mut h = axum::http::HeaderMap::new();
    assert_eq!(pick(None, &h), (Lang::En, false), "English by default");
    h.insert(
        "accept-language",
        "fr-BE,fr;q=0.9".parse().unwrap_or_else(|_| panic!()),
    );
    assert_eq!(pick(None, &h), (Lang::Fr, false));
    h.insert(
        "cookie",
        "parvis_session=x; parvis_lang=en"
            .parse()
            .unwrap_or_else(|_| panic!()),
    );
    assert_eq!(
        pick(None, &h),
        (Lang::En, false),
        "the cookie beats the browser"
    );
    assert_eq!(
        pick(Some("a=1&lang=fr"), &h),
        (Lang::Fr, true),
        "the switch beats both"
    );
    assert_eq!(
        pick(Some("lang=xx"), &h),
        (Lang::En, false),
        "an unknown language is ignored"
    );
}

fn sample_status() -> StatusView {
    StatusView {
        name: "edge".into(),
        version: "0.1.0".into(),
        uptime_secs: 93_784,
        interfaces: vec![LinkView {
            role: "public".into(),
            name: "eth0".into(),
            state: "UP".into(),
            rx_bytes: 1_294_991_360,
            ..LinkView::default()
        }],
        listeners: vec![ListenerView {
            name: "https".into(),
            bind: "0.0.0.0:443".into(),
            protocol: "tls".into(),
            active: 1,
            total: 12_345,
        }],
        config_version: 3,
        pending: Some(PendingView {
            version: 3,
            deadline_secs: 90,
        }),
        warnings: Vec::new(),
        ha: None,
    }
}

fn sample_backends() -> Vec<BackendView> {
    let server = |addr: &str, up, drained| ServerView {
        addr: addr.parse().unwrap_or_else(|_| panic!("{addr}")),
        up,
        drained,
        active: 2,
        total: 1234,
        bytes_in: 5000,
        bytes_out: 70_000,
    };
    vec![BackendView {
        name: "k8s".into(),
        balance: "round_robin".into(),
        proxy_protocol: "v2".into(),
        servers: vec![
            server("10.0.0.20:443", true, false),
            server("10.0.0.21:443", false, true),
        ],
    }]
}

fn ha_view(cause: Option<&str>) -> crate::api::ha::HaView {
    use crate::api::ha::{HaView, Role, Transition};
    HaView {
        node: "a".into(),
        address: "10.0.0.2".into(),
        role: Role::Master,
        peer: "b".into(),
        peer_address: "10.0.0.3".into(),
        peer_role: "BACKUP".into(),
        peer_version: "3".into(),
        last: cause.map(|c| Transition {
            from: Role::Backup,
            to: Role::Master,
            at: 0,
            cause: c.into(),
        }),
        transitions: 1,
        health: "ok".into(),
        standby: false,
        vips: [String::new(), String::new()],
        neutron: None,
    }
}

/// Every page body and the two frames, in `l`.
fn every_page(l: Lang) -> Vec<String> {
    let s = sample_status();
    let b = sample_backends();
    let ban = BanView {
        addr: "203.0.113.7".parse().unwrap_or_else(|_| panic!()),
        expires_in_secs: 300,
        scope: BanScopeView::Admin,
    };
    let conn = ConnView {
        id: 1,
        listener: "https".into(),
        client: "198.51.100.9:4000".parse().unwrap_or_else(|_| panic!()),
        host: Some("a.example.org".into()),
        backend: Some("k8s".into()),
        server: None,
        age_ms: 61_000,
        bytes_in: 10,
        bytes_out: 20,
    };
    let route = RouteView {
        listener: "https".into(),
        hosts: vec![],
        backend: "k8s".into(),
    };
    let version = VersionView {
        version: 3,
        time: 1_796_133_785,
        author: "ui".into(),
        comment: "c".into(),
        state: VersionState::Pending,
    };
    let ruleset = RulesetView {
        text: "table inet parvis {}".into(),
        counters: vec![RuleCounterView {
            chain: "input".into(),
            comment: "admin".into(),
            packets: 12_000,
            bytes: 9_000_000,
        }],
    };
    let cfg = crate::config::parse(include_str!("../../../examples/parvis.toml")).ok();
    let line = serde_json::json!({"started_ms": 1_796_133_785_000_u64, "client": "203.0.113.9:5000",
        "end": "timeout", "duration_ms": 5, "bytes_in": 1, "bytes_out": 2});
    let event = EventView {
        time: 1_796_133_785,
        kind: "applied".into(),
        message: "version 3 applied by ui 198.51.100.10".into(),
    };
    let mut ha = s.clone();
    ha.ha = Some(crate::api::HaView::default());
    vec![
        render::dashboard(l, &ha, &b, std::slice::from_ref(&ban), "AB:CD"),
        render::dashboard(l, &s, &[], &[], "AB:CD"),
        render::ha_line(l, &ha_view(None)),
        render::ha_line(l, &ha_view(Some("peer silent"))),
        render::routes(l, &[route], &b, "tok"),
        render::routes(l, &[], &[], "tok"),
        render::connections(l, &[conn]),
        render::connections(l, &[]),
        render::access(l, cfg.as_ref(), &Ok(vec![ban]), "tok"),
        render::access(l, None, &Err(ApiError::internal("x")), "tok"),
        render::firewall(l, &Ok(ruleset)),
        render::firewall(l, &Err(ApiError::internal("x"))),
        render::config(l, "a = 1", &s, &[version]),
        render::config(l, "", &StatusView::default(), &[]),
        render::log(l, &ConnLogFilter::default(), &[line], &[event]),
        render::log(l, &ConnLogFilter::default(), &[], &[]),
        translate(super::super::pages::LAYOUT, l),
        translate(super::super::pages::LOGIN, l),
    ]
}

/// The page without its `<script>` blocks (the JSON texts for app.js).
fn without_scripts(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find("<script") {
        out.push_str(&rest[..open]);
        rest = rest[open..]
            .find("</script>")
            .map_or("", |close| &rest[open + close + "</script>".len()..]);
    }
    out.push_str(rest);
    out
}

/// The text a person sees: tags and the JSON texts blocks left out.
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in without_scripts(html).chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
}

#[test]
fn no_page_shows_an_untranslated_key() {
    let prefixes: BTreeSet<&str> = en::TEXTS
        .iter()
        .filter_map(|(k, _)| k.split_once('.').map(|p| p.0))
        .collect();
    for l in [Lang::En, Lang::Fr] {
        for page in every_page(l).iter().map(|p| without_scripts(p)) {
            for p in &prefixes {
                let probe = format!("{p}.");
                let hit = page.match_indices(&probe).find(|(i, _)| {
                    let next = page[i + probe.len()..].chars().next();
                    let prev = page[..*i].chars().last();
                    next.is_some_and(|c| c.is_ascii_lowercase())
                        && !prev.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
                });
                if let Some((i, _)) = hit {
                    let around: String = page[i..].chars().take(40).collect();
                    panic!("{l:?}: a raw key « {around} » in {page}");
                }
            }
            assert!(!page.contains("{{t:"), "{l:?}: {page}");
        }
    }
}

#[test]
fn pages_in_french_keep_no_english_text() {
    // English texts that French does not share (not "Total", "Client"),
    // split at their placeholders; short words would match data.
    let french: BTreeSet<&str> = fr::TEXTS.iter().map(|(_, t)| *t).collect();
    let english: Vec<String> = en::TEXTS
        .iter()
        .filter(|(k, t)| !french.contains(t) && !k.starts_with("js.") && *k != "lang.switch")
        .flat_map(|(_, t)| {
            t.split(['{', '}'])
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|s| s.chars().filter(char::is_ascii_alphabetic).count() >= 5)
        .filter(|s| !french.iter().any(|f| f.contains(s.as_str())))
        .collect();
    assert!(english.len() > 100, "the probe is real: {}", english.len());
    for page in every_page(Lang::Fr) {
        let text = visible(&page);
        for e in &english {
            assert!(
                !text.contains(e.as_str()),
                "English « {e} » left in: {text}"
            );
        }
    }
    // And the probe finds them in the English pages.
    let en_text: String = every_page(Lang::En).iter().map(|p| visible(p)).collect();
    let found = english
        .iter()
        .filter(|e| en_text.contains(e.as_str()))
        .count();
    assert!(
        found > 100,
        "only {found} English texts seen in English pages"
    );
}

#[test]
fn the_script_texts_are_json_and_cannot_close_their_tag() {
    for l in [Lang::En, Lang::Fr] {
        let s = l.script_texts();
        assert!(!s.contains('<'), "{s}");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{e}: {s}"));
        assert_eq!(v["js.valid"], l.t("js.valid"));
    }
    assert_eq!(Lang::Fr.t("js.valid"), "valide");
}

#[test]
fn placeholders_take_html_and_texts_are_escaped() {
    assert_eq!(
        Lang::Fr.f("form.refused", &[("reason", "<b>x</b>")]),
        "Opération refusée\u{a0}: <b>x</b>"
    );
    assert_eq!(Lang::En.h("nav.routes"), "Routes &amp; backends");
    // A value that quotes another placeholder is not filled again.
    let args = [
        ("balance", "{proxy}"),
        ("proxy", "v2"),
        ("up", "1"),
        ("all", "2"),
    ];
    assert_eq!(
        Lang::En.f("backends.summary", &args),
        "{proxy} · PROXY v2 · 1/2 up"
    );
    assert_eq!(
        translate("<a>{{t:nav.log}}</a>{{t:nope}}", Lang::Fr),
        "<a>Journal</a>nope"
    );
}

#[test]
fn every_text_the_script_asks_for_is_in_the_catalogue() {
    let script = include_str!("../../../web/static/app.js");
    let asked: BTreeSet<&str> = script
        .split("t(\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(k, _)| k))
        .filter(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    assert!(asked.len() > 20, "{asked:?}");
    for k in asked {
        let key = format!("js.{k}");
        assert!(
            en::TEXTS.iter().any(|(e, _)| *e == key),
            "app.js asks for {key}, not in the catalogue"
        );
    }
}
