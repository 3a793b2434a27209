//! The admin UI's language over real HTTPS: `Accept-Language` chooses it,
//! `?lang=` switches it and a cookie remembers it; that cookie grants
//! nothing (no page, no API call, no form without the session and its CSRF
//! token), and the form errors come in the chosen language.
#![allow(clippy::unwrap_used)]

mod admin_support;
mod engine_support;

use admin_support::{fast_options, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_chooses_the_switch_sticks_and_grants_nothing() {
    let a = start(fast_options()).await;
    // The login page follows Accept-Language; English without it.
    let fr = a
        .curl("GET", "/login", &["-H", "accept-language: fr-CH, en;q=0.5"])
        .await;
    assert_eq!(fr.status, 200);
    assert!(fr.body.contains("<html lang=\"fr\">"), "{}", fr.body);
    assert!(fr.body.contains("Mot de passe") && fr.body.contains("Se connecter"));
    let en = a.curl("GET", "/login", &[]).await;
    assert!(en.body.contains("<html lang=\"en\">") && en.body.contains("Password"));
    // The switch sets a strict cookie holding only the language.
    let sw = a.curl("GET", "/login?lang=fr", &[]).await;
    let set = sw.headers.to_lowercase();
    let lang_cookie = set
        .lines()
        .find(|l| l.starts_with("set-cookie: parvis_lang="))
        .unwrap_or_else(|| panic!("{set}"));
    for flag in [
        "parvis_lang=fr;",
        "secure",
        "httponly",
        "samesite=strict",
        "path=/",
    ] {
        assert!(lang_cookie.contains(flag), "{lang_cookie} lacks {flag}");
    }
    // The cookie alone opens nothing.
    let lc = "cookie: parvis_lang=fr";
    let page = a.curl("GET", "/routes", &["-H", lc]).await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.header("location").as_deref(), Some("/login"));
    assert_eq!(
        a.curl("GET", "/api/v1/status", &["-H", lc]).await.status,
        401
    );
    let form = "backend=k8s&server=10.0.0.20:443&on=1";
    let r = a
        .curl("POST", "/backends/drain", &["-H", lc, "--data", form])
        .await;
    assert_eq!(r.status, 303, "to the login page: {r:?}");
    assert_eq!(r.header("location").as_deref(), Some("/login"));
    // With a session: the cookie's language, and a switch back wins.
    let (session, csrf) = a.login().await;
    let both = format!("cookie: {session}; parvis_lang=fr");
    let dash = a.curl("GET", "/", &["-H", &both]).await;
    assert!(dash.body.contains("Tableau de bord"), "{}", dash.body);
    let back = a.curl("GET", "/?lang=en", &["-H", &both]).await;
    assert!(back.body.contains("<h1>Dashboard</h1>"), "{}", back.body);
    // A form still needs its CSRF token, whatever the language.
    let r = a
        .curl("POST", "/backends/drain", &["-H", &both, "--data", form])
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    // With it, errors come in French: ours, and the daemon's wrapped.
    let bad = format!("backend=k8s&server=10.0.0.20:443&on=2&csrf={csrf}");
    let r = a
        .curl("POST", "/backends/drain", &["-H", &both, "--data", &bad])
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.body.contains("Le formulaire de drainage est invalide."),
        "{}",
        r.body
    );
    let good = format!("{form}&csrf={csrf}");
    let r = a
        .curl("POST", "/backends/drain", &["-H", &both, "--data", &good])
        .await;
    // The real daemon has no backend "k8s": its reason in French, the
    // name as written.
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.body
            .contains("Opération refusée\u{a0}: aucun backend ne s’appelle &quot;k8s&quot;"),
        "{}",
        r.body
    );
    let ban = format!("addr=not-an-ip&minutes=5&csrf={csrf}");
    let r = a
        .curl("POST", "/bans/add", &["-H", &both, "--data", &ban])
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("n’est pas une adresse IP valide"),
        "{}",
        r.body
    );
}
