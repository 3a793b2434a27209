//! What can go wrong with the OpenStack API in the "neutron" failover
//! mode (pure: the error type only).

/// What can go wrong with the OpenStack API. The messages never hold the
/// application credential's secret.
#[derive(Debug, thiserror::Error)]
pub enum NeutronError {
    /// A URL in `[ha.neutron]` is not usable.
    #[error("bad URL {0}")]
    Url(String),
    /// The CA bundle could not be used.
    #[error("CA bundle {0}")]
    Ca(String),
    /// The secret file is missing, unreadable or not private.
    #[error("application credential secret: {0}")]
    Secret(String),
    /// No answer: connection refused, timeout, TLS failure.
    #[error("API unreachable: {0}")]
    Unreachable(String),
    /// The API answered with an error status.
    #[error("API refused {call}: HTTP {status}: {message}")]
    Refused {
        /// The call, e.g. `PUT floatingip 5f…`.
        call: String,
        /// The HTTP status.
        status: u16,
        /// The API's message.
        message: String,
    },
    /// The API answered something unexpected.
    #[error("unexpected API answer: {0}")]
    Answer(String),
}
