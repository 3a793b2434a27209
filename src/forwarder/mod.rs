//! The SNI/Host-routing TLS-passthrough forwarder: `hello`, `route`, `proxy_header` are pure; listeners, health checks and `relay` do I/O.
