//! The checker's problems and the daemon's events in the UI's language:
//! [`Lang::message`] finds a text's key and parameters
//! ([`crate::api::messages::classify`]) and fills the French template
//! ([`super::msg_fr`]); English keeps the text as written. Pure.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{msg_fr, Lang};
use crate::admin::html::esc;
use crate::api::messages::{classify, fill, Keyed, Param};

fn french() -> &'static HashMap<&'static str, &'static str> {
    static FR: OnceLock<HashMap<&str, &str>> = OnceLock::new();
    FR.get_or_init(|| msg_fr::TEXTS.iter().copied().collect())
}

impl Lang {
    /// `text` (a checker problem, an event, possibly several lines) in
    /// this language, HTML-escaped. Key paths, values and numbers are
    /// the text's own; a line no template matches stays as written.
    pub fn message(self, text: &str) -> String {
        let lines = text.lines().map(|line| match (self, classify(line)) {
            (Lang::Fr, Some(k)) => render(&k),
            _ => esc(line),
        });
        lines.collect::<Vec<_>>().join("\n")
    }

    /// The message templates `app.js` renders the API's `code` and
    /// `params` with (French only: English shows the API's own text), as
    /// JSON that cannot close its `<script>` tag.
    pub fn message_texts(self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = match self {
            Lang::En => serde_json::Map::new(),
            Lang::Fr => msg_fr::TEXTS
                .iter()
                .map(|(k, t)| (k.to_string(), (*t).into()))
                .collect(),
        };
        serde_json::Value::Object(map)
            .to_string()
            .replace('<', "\\u003c")
    }
}

/// A keyed message in French, HTML: the template escaped, each parameter
/// escaped (or rendered, when it is a nested message).
fn render(k: &Keyed) -> String {
    let Some(template) = french().get(k.code.as_str()) else {
        return esc(&k.english());
    };
    fill(&esc(template), |name| {
        k.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| param(p))
    })
}

fn param(p: &Param) -> String {
    match p {
        Param::Text(t) => esc(t),
        Param::Keyed(inner) => render(inner),
        Param::List(items) => {
            let items: Vec<String> = items.iter().map(param).collect();
            items.join("\u{202f}; ")
        }
    }
}
