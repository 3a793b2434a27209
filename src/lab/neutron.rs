//! A stand-in for Keystone and Neutron in the router's namespace, for the
//! "neutron" failover mode: POST /v3/auth/tokens (application credential
//! only), GET and PUT /v2.0/floatingips/{id}, with the real APIs' JSON.
//! A PUT re-points the router's floating-IP NAT at the port's fixed
//! address, then drops the floating IP's conntrack entries, as Neutron's L3
//! agent does — so traffic moves when, and only when, the API was called
//! (never by gratuitous ARP). Optional delay per call; it can be told to
//! refuse; over HTTPS with a lab CA when started with [`StandIn::start_tls`]
//! (`neutron_tls`). Does I/O (a thread in the router's namespace, `nft`,
//! `conntrack`).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use super::neutron_nat::apply_nat;
use super::pair_topology::{NODE_NAMES, NODE_PUBLIC};
use super::{LabError, FLOATING_IP, ROUTER_PUBLIC};

/// Keystone's port on the router.
pub const KEYSTONE_PORT: u16 = 5000;
/// Neutron's port on the router.
pub const NEUTRON_PORT: u16 = 9696;
/// The floating IP's id.
pub const FIP_ID: &str = "5b7e0d6a-4c1f-4c7e-9a51-0f1d2c3b4a10";
/// Nodes `a` and `b`'s public port ids.
pub const PORT_IDS: [&str; 2] = [
    "a1a1a1a1-0000-4000-8000-00000000000a",
    "b2b2b2b2-0000-4000-8000-00000000000b",
];
/// The application credential the stand-in accepts.
pub const CREDENTIAL_ID: &str = "0c2f5d1e9b8a4c7d8e6f5a4b3c2d1e0f";
/// Its secret (tests look for it in logs and status: it must not be there).
pub const CREDENTIAL_SECRET: &str = "lab-app-cred-S3CRET-must-never-be-logged";

/// What the stand-in knows and how it behaves; the tests change it.
#[derive(Debug, Default)]
pub struct World {
    /// The port the floating IP points at.
    pub port: Option<String>,
    /// The fixed address on it.
    pub fixed: Option<Ipv4Addr>,
    /// Added to every call before it answers (and before a PUT takes effect).
    pub delay: Duration,
    /// Answer every Neutron call with this status (e.g. 403).
    pub refuse: Option<u16>,
    /// Every PUT that moved the NAT: when its NAT was in place, and the port.
    pub moves: Vec<(Instant, String)>,
    /// Calls answered, as "METHOD path STATUS".
    pub calls: Vec<String>,
    tokens: Vec<String>,
}

/// The running stand-in; dropping it stops it.
#[derive(Debug)]
pub struct StandIn {
    /// Shared with the server thread.
    pub world: Arc<Mutex<World>>,
    https: bool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StandIn {
    /// Starts it in namespace `router` (by name) and installs the NAT for
    /// an unassociated floating IP.
    pub fn start(router: &str) -> Result<StandIn, LabError> {
        Self::serve(router, None)
    }

    /// [`StandIn::start`] over HTTPS: both ports speak TLS with `tls`'s
    /// certificate, and the token's catalog names `https://` endpoints.
    pub fn start_tls(router: &str, tls: Arc<rustls::ServerConfig>) -> Result<StandIn, LabError> {
        Self::serve(router, Some(tls))
    }

    fn serve(router: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Result<StandIn, LabError> {
        let https = tls.is_some();
        let world = Arc::new(Mutex::new(World::default()));
        apply_nat(router, None)?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (w, r) = (world.clone(), router.to_string());
        let thread = std::thread::Builder::new()
            .name("lab-neutron".into())
            .spawn(move || serve_in(&r, w, tls, stopped, ready_tx))
            .map_err(|e| not_ready(e.to_string()))?;
        let ready = ready_rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| not_ready("the server thread did not start".into()))?;
        ready.map_err(not_ready)?;
        Ok(StandIn {
            world,
            https,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Keystone's URL as the nodes see it (plain HTTP).
    pub fn auth_url() -> String {
        format!("http://{ROUTER_PUBLIC}:{KEYSTONE_PORT}/v3")
    }

    /// This stand-in's Keystone URL: `https://` when it speaks TLS.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{ROUTER_PUBLIC}:{KEYSTONE_PORT}/v3")
    }

    /// Locks the world.
    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn not_ready(reason: String) -> LabError {
    LabError::NotReady {
        command: "the Keystone/Neutron stand-in".into(),
        reason,
    }
}

/// The server thread: enters the router's namespace, then serves both ports.
fn serve_in(
    router: &str,
    world: Arc<Mutex<World>>,
    tls: Option<Arc<rustls::ServerConfig>>,
    stopped: tokio::sync::oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let entered = std::fs::File::open(format!("/run/netns/{router}"))
        .map_err(|e| e.to_string())
        .and_then(|f| {
            nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string())
        });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let (Ok(()), Ok(rt)) = (entered.clone(), rt) else {
        let _ = ready.send(Err(format!("entering {router}: {:?}", entered.err())));
        return;
    };
    rt.block_on(async move {
        let bind = |port| tokio::net::TcpListener::bind(SocketAddr::from((ROUTER_PUBLIC, port)));
        let (k, n) = match (bind(KEYSTONE_PORT).await, bind(NEUTRON_PORT).await) {
            (Ok(k), Ok(n)) => (k, n),
            (Err(e), _) | (_, Err(e)) => {
                let _ = ready.send(Err(e.to_string()));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let ctx = Arc::new(Ctx {
            world,
            router: router.to_string(),
            tls: tls.map(tokio_rustls::TlsAcceptor::from),
        });
        tokio::select! {
            () = accept(k, ctx.clone()) => {}
            () = accept(n, ctx) => {}
            _ = stopped => {}
        }
    });
}

struct Ctx {
    world: Arc<Mutex<World>>,
    router: String,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

async fn accept(listener: tokio::net::TcpListener, ctx: Arc<Ctx>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let tls = ctx.tls.clone();
            let svc = hyper::service::service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, hyper::Error>(handle(&ctx, req).await) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                // A client that refuses the certificate ends here.
                Some(acceptor) => {
                    if let Ok(s) = acceptor.accept(tcp).await {
                        let io = hyper_util::rt::TokioIo::new(s);
                        let _ = http.serve_connection(io, svc).await;
                    }
                }
                None => {
                    let io = hyper_util::rt::TokioIo::new(tcp);
                    let _ = http.serve_connection(io, svc).await;
                }
            }
        });
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(status: u16, body: &Value, token: Option<&str>) -> Answer {
    let mut r = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    if let Some(t) = token {
        r = r.header("x-subject-token", t);
    }
    r.body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn neutron_error(status: u16, kind: &str, message: &str) -> Answer {
    answer(
        status,
        &json!({"NeutronError": {"type": kind, "message": message, "detail": ""}}),
        None,
    )
}

async fn handle(ctx: &Ctx, req: Request<hyper::body::Incoming>) -> Answer {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let delay = ctx.world.lock().map(|w| w.delay).unwrap_or_default();
    tokio::time::sleep(delay).await;
    let fip_path = format!("/v2.0/floatingips/{FIP_ID}");
    let out = match (method.as_str(), path.as_str()) {
        ("POST", "/v3/auth/tokens") => tokens(ctx, &body),
        (m, p) if p == fip_path => floating_ip(ctx, m, token.as_deref(), &body),
        (_, p) if p.starts_with("/v2.0/floatingips/") => neutron_error(
            404,
            "FloatingIPNotFound",
            &format!("Floating IP {} could not be found", &p[18..]),
        ),
        _ => answer(
            404,
            &json!({"error": {"code": 404, "message": "Not Found", "title": "Not Found"}}),
            None,
        ),
    };
    if let Ok(mut w) = ctx.world.lock() {
        w.calls
            .push(format!("{method} {path} {}", out.status().as_u16()));
    }
    out
}

fn tokens(ctx: &Ctx, body: &[u8]) -> Answer {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    let ac = v.pointer("/auth/identity/application_credential");
    let methods_ok =
        v.pointer("/auth/identity/methods") == Some(&json!(["application_credential"]));
    let id_ok = ac.and_then(|a| a.get("id")).and_then(Value::as_str) == Some(CREDENTIAL_ID);
    let secret_ok =
        ac.and_then(|a| a.get("secret")).and_then(Value::as_str) == Some(CREDENTIAL_SECRET);
    if !(methods_ok && id_ok && secret_ok) {
        let e = json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}});
        return answer(401, &e, None);
    }
    let mut w = ctx.world.lock().unwrap_or_else(|p| p.into_inner());
    let token = format!("gAAAAAB-lab-token-{}", w.tokens.len() + 1);
    w.tokens.push(token.clone());
    let scheme = if ctx.tls.is_some() { "https" } else { "http" };
    let network = format!("{scheme}://{ROUTER_PUBLIC}:{NEUTRON_PORT}");
    let keystone = format!("{scheme}://{ROUTER_PUBLIC}:{KEYSTONE_PORT}/v3");
    let body = json!({"token": {
        "methods": ["application_credential"],
        "expires_at": "2099-01-01T00:00:00.000000Z",
        "application_credential": {"id": CREDENTIAL_ID, "name": "parvis-ha", "restricted": true},
        "catalog": [
            {"type": "identity", "name": "keystone", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": keystone}]},
            {"type": "network", "name": "neutron", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": network}]}
        ]
    }});
    answer(201, &body, Some(&token))
}

fn floating_ip(ctx: &Ctx, method: &str, token: Option<&str>, body: &[u8]) -> Answer {
    let mut w = ctx.world.lock().unwrap_or_else(|p| p.into_inner());
    if !token.is_some_and(|t| w.tokens.iter().any(|k| k == t)) {
        let e = json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}});
        return answer(401, &e, None);
    }
    if let Some(status) = w.refuse {
        return neutron_error(
            status,
            "PolicyNotAuthorized",
            "rule:update_floatingip is disallowed by policy",
        );
    }
    if method == "PUT" {
        let v: Value = serde_json::from_slice(body).unwrap_or_default();
        let port = v
            .pointer("/floatingip/port_id")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some(i) = PORT_IDS.iter().position(|p| *p == port) else {
            return neutron_error(
                404,
                "PortNotFound",
                &format!("Port {port} could not be found."),
            );
        };
        let fixed = v
            .pointer("/floatingip/fixed_ip_address")
            .and_then(Value::as_str);
        if fixed.is_some_and(|f| f != NODE_PUBLIC[i].to_string()) {
            return neutron_error(
                400,
                "BadRequest",
                &format!(
                    "Bad floatingip request: Port {port} does not have fixed ip {}.",
                    fixed.unwrap_or("")
                ),
            );
        }
        if let Err(e) = apply_nat(&ctx.router, Some(NODE_PUBLIC[i])) {
            return neutron_error(500, "InternalError", &e.to_string());
        }
        w.port = Some(port.to_string());
        w.fixed = Some(NODE_PUBLIC[i]);
        w.moves.push((Instant::now(), port.to_string()));
    } else if method != "GET" {
        return neutron_error(405, "MethodNotAllowed", "only GET and PUT here");
    }
    answer(200, &floating_ip_json(&w), None)
}

fn floating_ip_json(w: &World) -> Value {
    json!({"floatingip": {
        "id": FIP_ID,
        "floating_ip_address": FLOATING_IP.to_string(),
        "floating_network_id": "e7a5d1c0-public",
        "port_id": w.port,
        "fixed_ip_address": w.fixed.map(|a| a.to_string()),
        "status": if w.port.is_some() { "ACTIVE" } else { "DOWN" },
        "router_id": "7f0e-lab-router",
        "description": "",
    }})
}

/// Which node a port id belongs to.
pub fn node_of(port: &str) -> Option<&'static str> {
    PORT_IDS
        .iter()
        .position(|p| *p == port)
        .map(|i| NODE_NAMES[i])
}

/// The ports section of the nodes' config.
pub fn ports() -> BTreeMap<&'static str, &'static str> {
    NODE_NAMES.into_iter().zip(PORT_IDS).collect()
}
