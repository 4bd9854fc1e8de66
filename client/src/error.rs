//! What can go wrong, typed so that a program can act on it.

use crate::Fence;

/// An error from the cluster or from reaching it.
///
/// Each variant says whether the request may have taken effect: only
/// [`Error::OutcomeUnknown`] leaves that open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `412`: the write named fence `fence`, but it was ordered in the leadership of term
    /// `current`, a newer one. Not applied. The program that held `fence` is no longer
    /// the goose's program and must stop acting as one.
    #[error("fence {fence} is stale: a newer leadership (fence {current}) exists; not applied")]
    StaleFence {
        /// The fence the write carried.
        fence: Fence,
        /// The fence of the leadership that ordered the write.
        current: Fence,
    },
    /// `401`: the token is missing or wrong. Not applied.
    #[error("unauthorized: the cluster refused the bearer token (missing or wrong)")]
    Unauthorized,
    /// No node could take the request because none is (or is known as) the goose right
    /// now: during an election, or every node asked is cut off from a quorum. Not applied;
    /// retry later.
    #[error("no goose: {message}")]
    NoGoose {
        /// The last node's reason.
        message: String,
    },
    /// A node answered `503` for another reason (overloaded, shutting down). Not applied;
    /// retry later.
    #[error("{url}: unavailable: {message}")]
    Unavailable {
        /// The node that answered.
        url: String,
        /// Its reason.
        message: String,
    },
    /// No connection could be made (refused, unreachable, TLS handshake failed): nothing
    /// was sent.
    #[error("{url}: unreachable: {message}")]
    Unreachable {
        /// Where the client tried to connect.
        url: String,
        /// The transport's reason, with its causes.
        message: String,
    },
    /// The request was sent but its outcome is unknown: the answer did not come in time,
    /// the connection broke, or the node itself answered that it could not learn the
    /// outcome (`504`). A write may or may not have been applied.
    #[error("{url}: outcome unknown: {message}")]
    OutcomeUnknown {
        /// Where the request went.
        url: String,
        /// Why the outcome is unknown.
        message: String,
    },
    /// A node redirected the request to an address that is not a cluster member; the
    /// client did not follow it, so the token never left the cluster.
    #[error("{url}: redirected to {location}, which is not a cluster member; not following")]
    UntrustedRedirect {
        /// The node that redirected.
        url: String,
        /// Where it pointed.
        location: String,
    },
    /// Redirects went on for longer than the client follows them.
    #[error("{url}: too many redirects")]
    TooManyRedirects {
        /// The last node that redirected.
        url: String,
    },
    /// The node refused the request as it was (`400`, `413`, …). Not applied.
    #[error("{url}: {status}: {message}")]
    Refused {
        /// Where the request went.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The node's reason.
        message: String,
    },
    /// The node's answer made no sense to this client (a malformed body or event).
    #[error("{url}: unexpected answer: {message}")]
    Protocol {
        /// Where the answer came from.
        url: String,
        /// What was wrong with it.
        message: String,
    },
    /// The client is misconfigured: no member, a bad URL, an unreadable CA file.
    #[error("client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The request certainly did not take effect: retrying cannot apply it twice.
    pub fn not_applied(&self) -> bool {
        !matches!(self, Error::OutcomeUnknown { .. })
    }

    /// A transport failure ([`Error::Unreachable`] or [`Error::OutcomeUnknown`]) rather
    /// than an answer from the cluster.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            Error::Unreachable { .. } | Error::OutcomeUnknown { .. }
        )
    }

    /// Maps a reqwest failure: no connection means nothing was sent.
    pub(crate) fn transport(url: &str, e: &reqwest::Error) -> Error {
        let message = error_chain(e);
        if e.is_connect() {
            Error::Unreachable {
                url: url.to_string(),
                message,
            }
        } else {
            Error::OutcomeUnknown {
                url: url.to_string(),
                message,
            }
        }
    }
}

/// The error and its causes on one line (reqwest's own message is only the outermost).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
