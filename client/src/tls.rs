//! TLS on rustls with the `ring` provider, as the node uses: verify nodes against a CA
//! file, or against the platform's roots when none is given.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// Makes `ring` the process-wide rustls provider, which reqwest needs to build any
/// client (even one that only speaks plain HTTP). Idempotent.
pub fn install_default_provider() {
    if CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: it can only be this same provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Reads a PEM file of CA certificates (the cluster's `--tls-ca`).
pub fn load_ca(path: &Path) -> Result<RootCertStore, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read CA certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
            path.display()
        ));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("{}: not a CA certificate: {e}", path.display()))?;
    }
    Ok(roots)
}

/// A reqwest builder that verifies servers against `ca` (if given), presenting no client
/// certificate. It never follows redirects: the client decides where its token may go.
pub fn builder(ca: Option<&Path>) -> Result<reqwest::ClientBuilder, String> {
    install_default_provider();
    let builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none());
    let Some(path) = ca else {
        return Ok(builder);
    };
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(load_ca(path)?)
            .with_no_client_auth();
    Ok(builder.tls_backend_preconfigured(config))
}
