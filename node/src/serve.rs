//! Serves the router over TLS: one rustls handshake and one HTTP/1.1 connection per
//! accepted socket, each request tagged with whether its connection presented a
//! verified client certificate ([`ClientCert`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tower_service::Service;

use crate::tls::ClientCert;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until `stop` fires, then waits up to two seconds for the open
/// ones to finish. A failed handshake (plain HTTP, an unknown client CA) only ends that
/// connection.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    config: Arc<ServerConfig>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    // hyper-util's GracefulShutdown cannot watch an upgradeable http1 connection: each
    // connection holds a receiver, told to stop; the sender is closed once all are gone.
    let (stopping, stop_watch) = tokio::sync::watch::channel(false);
    tokio::pin!(stop);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let mut stop_watch = stop_watch.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out");
                    return;
                }
            };
            // With a client verifier, rustls only completes the handshake for a client
            // that sent no certificate or one the CA signed.
            let client_cert = ClientCert {
                verified: stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .is_some_and(|c| !c.is_empty()),
            };
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(client_cert);
                let mut app = app.clone();
                async move { app.call(req).await }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                // The peer transport upgrades its connection to a stream.
                .with_upgrades();
            tokio::pin!(conn);
            let served = tokio::select! {
                served = conn.as_mut() => served,
                _ = async { stop_watch.wait_for(|stop| *stop).await.map(|_| ()) } => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = served {
                tracing::debug!(%remote, "connection ended: {e}");
            }
        });
    }
    drop(listener);
    drop(stop_watch);
    let _ = stopping.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(2), stopping.closed()).await;
}
