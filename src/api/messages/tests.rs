//! Every template finds itself again, and every problem the checker
//! writes for a corpus of broken configs has a key whose English is the
//! problem's text, byte for byte.

use super::*;

#[test]
fn every_template_classifies_back_to_its_own_key() {
    for (code, template) in templates() {
        let names = placeholders(template);
        assert!(
            pieces(template)
                .windows(2)
                .all(|w| !matches!(w, [Piece::Var(_), Piece::Var(_)])),
            "{code}: two placeholders in a row cannot be told apart"
        );
        assert!(
            pieces(template)
                .iter()
                .any(|p| matches!(p, Piece::Lit(l) if l.len() >= 2)),
            "{code}: a template needs fixed text"
        );
        let text = fill(template, |n| {
            let i = names.iter().position(|m| *m == n).unwrap_or(0);
            Some(format!("V{i}x"))
        });
        let k = classify(&text).unwrap_or_else(|| panic!("{code}: {text:?} matched nothing"));
        assert_eq!(k.code, *code, "{text:?}");
        assert_eq!(k.english(), text);
    }
}

#[test]
fn nested_causes_are_classified_too() {
    let k = classify("invalid config: line 3: forward[0].to: missing `to` (e.g. \"10.0.0.20:22\")")
        .expect("classified");
    assert_eq!(k.code, "event.invalid");
    let Param::Keyed(inner) = &k.params[0].1 else {
        panic!("{k:?}")
    };
    assert_eq!(inner.code, "check.at_line_path");
    assert_eq!(
        inner.params[1],
        ("path".into(), Param::Text("forward[0].to".into()))
    );
    let json = k.params_json();
    assert_eq!(json["why"]["params"]["why"]["code"], "check.missing_to");
    assert_eq!(classify(""), None);
    assert_eq!(classify("nothing like it"), None);
}

/// Broken configs, each with the key path the checker must name.
const CORPUS: &[&str] = &[
    "",
    "x = = 1",
    "[[forward]]\nport = 2222\nto = \"not an address\"\n",
    "[[forward]]\nport = \"30010-30000\"\nto = \"10.0.0.5\"\nproto = \"sctp\"\n",
    "[[forward]]\nport = 22\n",
    "[[forward]]\nto = \"10.0.0.5:22\"\nallow = [\"2001:db8::/32\", \"nope\"]\n",
    "[[forward]]\nport = \"30000-30010\"\nto = \"10.0.0.5:40000\"\n",
    "[[forward]]\nport = 443\nto = \"10.0.0.5\"\n[[forward]]\nport = 443\nto = \"10.0.0.6\"\n",
    "[[forward]]\nport = \"440-450\"\nto = \"10.0.0.5\"\n[[forward]]\nport = 443\nto = \"10.0.0.6\"\n",
    "[[listener]]\nname = \"bad name!\"\nbind = \"nowhere\"\nprotocol = \"quic\"\nhello_timeout = \"forever\"\nidle_timeout = \"0s\"\nmax_connections = 0\naccept_proxy = [\"0.0.0.0/0\", \"10.0.0.0/4\"]\n",
    "[[listener]]\nname = \"a\"\nbind = \"0.0.0.0:443\"\nprotocol = \"tls\"\ndefault_backend = \"none\"\n[[listener]]\nname = \"a\"\nbind = \"0.0.0.0:443\"\nprotocol = \"http\"\n",
    "[[listener]]\n",
    "[[listener]]\nname = \"h\"\nbind = \"0.0.0.0:80\"\nprotocol = \"http\"\n[[route]]\nlistener = \"h\"\nhosts = [\"*\", \"a..b\", \"-a.org\", \"*.org\", \"b_c.org\", \"é.org\", \"1.2.3.4\"]\nbackend = \"k\"\nalpn = [\"h2\", \"h2\", \"has space\"]\n[[route]]\nlistener = \"nope\"\nhosts = []\nbackend = \"gone\"\nalpn = []\n[[route]]\n[backend.k]\nservers = [\"10.0.0.1:80\", \"10.0.0.1:80\", \"0.0.0.0:0\"]\nproxy_protocol = \"v3\"\nbalance = \"random\"\nproxy_v2_tlvs = [\"x\"]\n[backend.k.health]\ninterval = \"1s\"\ntimeout = \"2s\"\nfall = 0\n[backend.e]\nservers = []\nproxy_protocol = \"v1\"\nproxy_v2_tlvs = [\"alpn\"]\n",
    "[[listener]]\nname = \"t\"\nbind = \"0.0.0.0:443\"\nprotocol = \"tls\"\n[[route]]\nlistener = \"t\"\nhosts = [\"a.org\"]\nbackend = \"k\"\n[[route]]\nlistener = \"t\"\nhosts = [\"a.org\"]\nbackend = \"k\"\n[backend.k]\nservers = [\"10.0.0.1:443\"]\n",
    "[limits]\nconn_rate = \"many\"\nconn_burst = 5\nconn_max = 0\nban = \"1h\"\nipv6_prefix = 3\nmeter_size = 1\nblock_file = \"relative.txt\"\n[[forward]]\nport = 22\nto = \"10.0.0.5\"\n",
    "[limits]\nconn_rate = \"0/second\"\nblock = [\"x\"]\nblock_file = \"/nonexistent/parvis-list\"\n[[forward]]\nport = 22\nto = \"10.0.0.5\"\n",
    "[appliance]\nname = \"\"\nstate_dir = \"rel\"\nmax_connections = 0\n[admin]\nlisten = \"x\"\ntls_cert = \"/a\"\nssh_port = 0\n[metrics]\nlisten = \"y\"\n[[forward]]\nport = 22\nto = \"10.0.0.5\"\n",
    "[interfaces.public]\nmac = \"zz\"\nname = \"eth0\"\n[interfaces.internal]\nname = \"a-very-long-interface-name\"\naddress = \"10.0.0.1\"\ngateway = \"nope\"\nmtu = 100\nroutes = [{ to = \"10.42.0.0/16\", via = \"2001:db8::1\" }, { to = \"x\", via = \"y\" }]\n[[forward]]\nport = 22\nto = \"10.0.0.5\"\n",
    "[interfaces.internal]\naddress = \"10.0.0.1/24\"\ngateway = \"192.168.1.1\"\n[interfaces.public]\naddress = \"10.0.0.2/24\"\ngateway = \"2001:db8::1\"\n[[forward]]\nport = 22\nto = \"10.0.0.5\"\n",
    "[log]\nring = 99999999\nremote = \"nowhere\"\nca = \"rel\"\n[[forward]]\nport = 22\nto = \"10.0.0.5\"\n",
    "[log]\ntls = true\nserver_name = \"x\"\n[[forward]]\nport = 22\nto = \"10.0.0.5\"\n",
    "[log]\nremote = \"192.0.2.1:6514\"\ntls = true\n[[forward]]\nport = 22\nto = \"10.0.0.5\"\n",
    "[ha]\nvrid = 300\nvip_public = \"2001:db8::1/64\"\nvip_internal = \"10.0.0.0/24\"\nsync_port = 0\nadvert = \"5ms\"\nkey = \"short\"\nkey_file = \"rel\"\nmode = \"carp\"\n[[ha.node]]\nname = \"a\"\naddress = \"x\"\npriority = 300\n[[forward]]\nport = 22\nto = \"10.0.0.5\"\n",
    "[ha]\n[[ha.node]]\n[[forward]]\nport = 22\nto = \"10.0.0.5\"\n",
    "[ha]\nvrid = 5\nvip_public = \"192.168.10.4/24\"\nvip_internal = \"10.0.0.4/24\"\nkey = \"0123456789abcdef0123456789abcdef\"\nmode = \"neutron\"\n[[ha.node]]\nname = \"a\"\naddress = \"10.0.0.4\"\npriority = 100\n[[ha.node]]\nname = \"a\"\naddress = \"10.1.0.4\"\npriority = 90\n[ha.neutron]\nauth_url = \"not a url\"\napplication_credential_id = \"bad id!\"\napplication_credential_secret = \"s\"\napplication_credential_secret_file = \"rel\"\nfloating_ip = \"\"\nports = { a = \"p\", c = \"p\" }\ntimeout = \"99h\"\n[interfaces.public]\naddress = \"192.168.10.5/24\"\n[[forward]]\nport = 22\nto = \"10.0.0.5\"\n",
    "[ha]\nvrid = 5\nvip_public = \"192.168.10.4/24\"\nvip_internal = \"10.0.0.4/24\"\nkey = \"0123456789abcdef0123456789abcdef\"\n[[ha.node]]\nname = \"a\"\naddress = \"10.0.0.5\"\npriority = 100\n[[ha.node]]\nname = \"b\"\naddress = \"10.0.0.6\"\npriority = 90\n[ha.neutron]\n[[listener]]\nname = \"t\"\nbind = \"0.0.0.0:7000\"\nprotocol = \"tls\"\ndefault_backend = \"k\"\n[backend.k]\nservers = [\"10.0.0.1:443\"]\n",
    "[[forward]]\nport = \"many\"\nto = 5\n",
    "listener = { name = \"x\" }\n",
    "[[backend]]\nname = \"x\"\n",
    "[frobnicate]\n",
    "[[forward]]\nport = 22\nto = \"10.0.0.5\"\nto = \"10.0.0.6\"\n",
];

#[test]
fn every_problem_of_the_corpus_has_a_key() {
    let mut unkeyed = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for text in CORPUS {
        let Err(err) = crate::config::parse(text) else {
            panic!("the corpus config is valid: {text}")
        };
        for p in err.problems {
            match classify(&p.message) {
                Some(k) if k.english() == p.message && !k.code.starts_with("check.at_") => {
                    seen.insert(k.code);
                }
                other => unkeyed.push(format!("{}: {} ({other:?})", p.path, p.message)),
            }
        }
    }
    assert!(
        unkeyed.is_empty(),
        "messages without a key:\n{}",
        unkeyed.join("\n")
    );
    assert!(seen.len() >= 80, "the corpus reaches {} keys", seen.len());
}

#[test]
fn crafted_texts_cannot_make_it_slow() {
    // Many separators for the backtracking to try, at the length limit.
    let crafted = format!("{}: is not", " line : ".repeat(MAX_TEXT / 8 - 2));
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let _ = classify(&crafted);
    }
    let each = started.elapsed() / 20;
    assert!(
        each < std::time::Duration::from_millis(50),
        "{each:?} per text"
    );
    assert_eq!(classify(&"x".repeat(MAX_TEXT + 1)), None);
}

#[test]
fn a_config_with_sixteen_thousand_problems_is_keyed_quickly() {
    // tests/daemon_check.rs's big config: every forward has a problem.
    let mut text = String::new();
    for n in 0..16_000 {
        let port = 10_000 + n % 50_000;
        text.push_str(&format!("[[forward]]\nport = {port}\nto = \"bad-{n}\"\n"));
    }
    let problems = crate::config::parse(&text).expect_err("bad").problems;
    let started = std::time::Instant::now();
    let keyed = problems
        .iter()
        .filter(|p| classify(&p.message).is_some())
        .count();
    let took = started.elapsed();
    println!("{} problems keyed in {took:?}", problems.len());
    assert_eq!(keyed, problems.len());
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
}
