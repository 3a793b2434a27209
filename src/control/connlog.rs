//! `parvis log`: the connection log's recent lines from the running daemon
//! (`GET /api/v1/log` over the control socket), filtered by client, host
//! and end reason; the logfmt lines as the journal has them, or JSON with
//! `--json`. Does I/O (the socket).

use std::path::Path;

use hyper::Method;
use serde_json::Value;

use super::client::call;
use super::ControlError;

/// `parvis log`'s filters (empty: all).
#[derive(Debug, Clone, PartialEq, Eq, Default, clap::Args)]
pub struct LogArgs {
    /// Only clients whose address contains this (`203.0.113.7`).
    #[arg(long, default_value = "")]
    pub client: String,
    /// Only SNI or Host names containing this.
    #[arg(long, default_value = "")]
    pub host: String,
    /// Only this end reason (`client_closed`, `backend_down`, `timeout`, ...).
    #[arg(long, default_value = "")]
    pub end: String,
    /// At most this many lines (the daemon caps it at 500).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

impl LogArgs {
    /// The query string, each value percent-encoded.
    fn query(&self) -> String {
        format!(
            "client={}&host={}&end={}&limit={}",
            encode(&self.client),
            encode(&self.host),
            encode(&self.end),
            self.limit
        )
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Asks the daemon; the lines oldest first (as a terminal reads), or JSON.
pub async fn run(socket: &Path, args: &LogArgs, json: bool) -> Result<String, ControlError> {
    let path = format!("/log?{}", args.query());
    let lines: Vec<Value> = call(socket, Method::GET, &path, None).await?;
    if json {
        let mut s = serde_json::to_string_pretty(&lines).unwrap_or_default();
        s.push('\n');
        return Ok(s);
    }
    if lines.is_empty() {
        return Ok("no finished connection matches\n".into());
    }
    let mut out = String::new();
    for l in lines.iter().rev() {
        out.push_str(l.get("line").and_then(Value::as_str).unwrap_or(""));
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_cannot_reach_another_parameter() {
        let a = LogArgs {
            client: "203.0.113.7".into(),
            host: "a&end=x".into(),
            end: String::new(),
            limit: 5,
        };
        assert_eq!(
            a.query(),
            "client=203.0.113.7&host=a%26end%3Dx&end=&limit=5"
        );
    }
}
