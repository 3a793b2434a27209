//! A drained server stays drained across an apply that rebuilds its
//! backend (the drain is not part of the config), shows in `/metrics` as
//! `parvis_backend_server_drained 1`, and gets no new connection; against
//! the real daemon core (`tests/engine_support`), no root needed.
#![allow(clippy::unwrap_used)]

mod engine_support;

use std::time::Duration;

use parvis::api::{ApplyRequest, Author, AuthorKind, Control};

fn drained(e: &engine_support::Engine) -> Option<bool> {
    e.daemon
        .backends()
        .iter()
        .flat_map(|b| &b.servers)
        .find(|s| s.addr == e.up)
        .map(|s| s.drained)
}

fn metric(e: &engine_support::Engine) -> String {
    let want = format!(
        "parvis_backend_server_drained{{backend=\"ingress-https\",server=\"{}\"}} ",
        e.up
    );
    let text = parvis::api::metrics::render(&*e.daemon);
    text.lines()
        .find_map(|l| l.strip_prefix(&want))
        .unwrap_or_else(|| panic!("no {want} in {text}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_survives_an_apply_and_shows_in_metrics() {
    let e = engine_support::start().await;
    assert_eq!((drained(&e), metric(&e).as_str()), (Some(false), "0"));
    e.daemon
        .drain("ingress-https", &e.up.to_string(), true)
        .unwrap();
    assert_eq!((drained(&e), metric(&e).as_str()), (Some(true), "1"));

    // An apply that changes the backend (its balance) and adds a route.
    let text = e
        .text
        .replace("balance = \"least-conn\"", "balance = \"round-robin\"")
        + "\n[[route]]\nlistener = \"https\"\nhosts = [\"drain.example.org\"]\nbackend = \"ingress-https\"\n";
    let req = ApplyRequest {
        config: text,
        comment: "drain test".into(),
        confirm_within_secs: None,
        force: false,
    };
    let author = Author {
        kind: AuthorKind::Cli,
        source_addr: None,
    };
    e.daemon.apply(req, author).await.unwrap();
    let balance: Vec<String> = e
        .daemon
        .backends()
        .iter()
        .map(|b| b.balance.clone())
        .collect();
    assert_eq!(balance, ["round-robin"], "the apply reached the forwarder");
    assert_eq!(
        (drained(&e), metric(&e).as_str()),
        (Some(true), "1"),
        "the drain survives the apply"
    );

    // No new connection reaches the drained server (the other one is down).
    let before = server_total(&e);
    let conn = e.open_tls("drain.example.org").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server_total(&e),
        before,
        "a new connection reached the drained server"
    );
    drop(conn);

    e.daemon
        .drain("ingress-https", &e.up.to_string(), false)
        .unwrap();
    assert_eq!((drained(&e), metric(&e).as_str()), (Some(false), "0"));
    let conn = e.open_tls("drain.example.org").await;
    let mut waited = 0;
    while server_total(&e) == before {
        assert!(waited < 50, "undrained, it takes connections again");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    drop(conn);
}

fn server_total(e: &engine_support::Engine) -> u64 {
    e.daemon
        .backends()
        .iter()
        .flat_map(|b| &b.servers)
        .find(|s| s.addr == e.up)
        .map_or(0, |s| s.total)
}
