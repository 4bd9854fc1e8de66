//! TLS for the node and its clients, all on rustls with the `ring` provider: loading and
//! checking the certificate, key and CA files, reloading the certificate without a
//! restart (SIGHUP or a file change), the server config (optionally verifying client
//! certificates against the CA) and the client configs that talk to nodes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::client::ResolvesClientCert;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SignatureScheme};

/// The one crypto provider compiled in.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes `ring` the process-wide default, which reqwest needs to build any client (even
/// one that only speaks plain HTTP). Idempotent.
pub fn install_default_provider() {
    if CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: it can only be this same provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// How a request's connection identified its client. The TLS server puts one in every
/// request's extensions; peer routes under mutual TLS require `verified`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientCert {
    /// The client presented a certificate that the CA (`--tls-ca`) signed.
    pub verified: bool,
}

/// How this node serves and reaches its peers.
pub struct Transport {
    /// Every member is reached over https (TLS is a cluster-wide setting).
    pub tls: bool,
    /// Peer routes require a verified client certificate ([`ClientCert`]).
    pub require_client_cert: bool,
    /// Sends Raft messages to peers.
    pub peer_client: reqwest::Client,
}

impl Transport {
    /// Plain HTTP, no client certificates.
    pub fn plain() -> Transport {
        Transport {
            tls: false,
            require_client_cert: false,
            peer_client: crate::runtime::peer_client(&ClientTls::default()).unwrap_or_default(),
        }
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
}

// ---- Files -------------------------------------------------------------------------

/// Reads `--tls-cert` and `--tls-key` and checks that they belong together and that the
/// certificate is valid now.
pub fn load_identity(cert_path: &Path, key_path: &Path) -> Result<Arc<CertifiedKey>, String> {
    let certs = read_certs(cert_path, "--tls-cert")?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
        format!(
            "cannot read a private key from --tls-key {}: {}",
            key_path.display(),
            pem_error(e)
        )
    })?;
    let signing_key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("--tls-key {}: unusable key: {e}", key_path.display()))?;
    let certified = CertifiedKey::new(certs, signing_key);
    if let Err(e) = certified.keys_match() {
        return Err(format!(
            "--tls-key {} does not match the certificate in --tls-cert {} ({e})",
            key_path.display(),
            cert_path.display()
        ));
    }
    check_validity(&certified.cert[0], cert_path)?;
    Ok(Arc::new(certified))
}

/// Reads `--tls-ca`: the certificates that sign the cluster's node certificates.
pub fn load_ca(path: &Path) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path, "--tls-ca")? {
        roots
            .add(cert)
            .map_err(|e| format!("--tls-ca {}: not a CA certificate: {e}", path.display()))?;
    }
    Ok(Arc::new(roots))
}

fn read_certs(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            format!(
                "cannot read certificates from {flag} {}: {}",
                path.display(),
                pem_error(e)
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "{flag} {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
            path.display()
        ));
    }
    Ok(certs)
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(e) => e.to_string(),
        Error::NoItemsFound => "no PEM item of that kind in the file".to_string(),
        other => format!("bad PEM: {other:?}"),
    }
}

/// A certificate outside its validity window would be refused by every peer: say so now.
fn check_validity(cert: &CertificateDer<'_>, path: &Path) -> Result<(), String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| format!("--tls-cert {}: bad certificate: {e}", path.display()))?;
    let validity = parsed.validity();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if now < validity.not_before.timestamp() {
        return Err(format!(
            "--tls-cert {}: the certificate is not valid yet (not before {})",
            path.display(),
            validity.not_before
        ));
    }
    if now > validity.not_after.timestamp() {
        return Err(format!(
            "--tls-cert {}: the certificate expired ({})",
            path.display(),
            validity.not_after
        ));
    }
    Ok(())
}

/// The certificate's serial number in hex, for logs.
fn serial_of(key: &CertifiedKey) -> String {
    key.cert
        .first()
        .and_then(|c| x509_parser::parse_x509_certificate(c.as_ref()).ok())
        .map(|(_, c)| c.raw_serial_as_string())
        .unwrap_or_default()
}

// ---- The node's identity, reloadable -------------------------------------------------

/// The node's certificate and key: served to clients and presented to peers as the
/// client identity. Replaced in place by [`Identity::reload`].
pub struct Identity {
    current: RwLock<Arc<CertifiedKey>>,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl Identity {
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Identity, String> {
        Ok(Identity {
            current: RwLock::new(load_identity(cert_path, key_path)?),
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
        })
    }

    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the files again. On failure the old certificate stays in use.
    pub fn reload(&self) -> Result<String, String> {
        let fresh = load_identity(&self.cert_path, &self.key_path)?;
        let serial = serial_of(&fresh);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(serial)
    }

    pub fn serial(&self) -> String {
        serial_of(&self.current())
    }
}

impl ResolvesServerCert for Identity {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl ResolvesClientCert for Identity {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Reloads `identity` on SIGHUP and when the certificate or key file changes (checked
/// every second). Runs until the process ends.
pub fn watch(identity: Arc<Identity>, node: u64) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut seen = stamps(&identity);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            #[cfg(unix)]
            let why = tokio::select! {
                _ = tick.tick() => "file change",
                Some(()) = async {
                    match hangup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                } => "SIGHUP",
            };
            #[cfg(not(unix))]
            let why = {
                tick.tick().await;
                "file change"
            };
            let now = stamps(&identity);
            if why == "file change" && now == seen {
                continue;
            }
            // A failed reload is retried on the next change or SIGHUP, not every second.
            seen = now;
            match identity.reload() {
                Ok(serial) => {
                    tracing::info!(node, %serial, "TLS certificate reloaded ({why})")
                }
                Err(e) => tracing::error!(
                    node,
                    "TLS certificate reload failed ({why}); still serving the old one: {e}"
                ),
            }
        }
    });
}

type Stamp = Option<(SystemTime, u64)>;

fn stamps(identity: &Identity) -> (Stamp, Stamp) {
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())))
    };
    (stamp(&identity.cert_path), stamp(&identity.key_path))
}

// ---- Configs ---------------------------------------------------------------------------

/// The server side: `identity` as the certificate; with `ca`, clients that present a
/// certificate must present one `ca` signed (clients without one are let in: the peer
/// routes refuse them, the client API serves them).
pub fn server_config(
    identity: Arc<Identity>,
    ca: Option<Arc<RootCertStore>>,
) -> Result<Arc<ServerConfig>, String> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = match ca {
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("--tls-ca: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(identity);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// How a client verifies nodes and which identity it presents. The default verifies
/// against the platform's roots and presents none.
#[derive(Clone, Default)]
pub struct ClientTls {
    config: Option<ClientConfig>,
}

impl ClientTls {
    /// Verifies servers against `ca` (and their names); presents `identity`, if any.
    pub fn new(ca: Arc<RootCertStore>, identity: Option<Arc<Identity>>) -> Result<Self, String> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(ca);
        let config = match identity {
            Some(identity) => builder.with_client_cert_resolver(identity),
            None => builder.with_no_client_auth(),
        };
        Ok(ClientTls {
            config: Some(config),
        })
    }

    /// Only `--tls-ca FILE` (the operator commands): verify servers against it.
    pub fn from_ca_file(ca: Option<&Path>) -> Result<Self, String> {
        match ca {
            Some(path) => ClientTls::new(load_ca(path)?, None),
            None => Ok(ClientTls::default()),
        }
    }

    /// A reqwest builder using this TLS setup (the caller adds its timeouts).
    pub fn builder(&self) -> reqwest::ClientBuilder {
        install_default_provider();
        let builder = reqwest::Client::builder();
        match &self.config {
            Some(config) => builder.tls_backend_preconfigured(config.clone()),
            None => builder,
        }
    }
}

/// Warns when peers would refuse this node's certificate: not signed by `ca`, or not
/// valid for the host peers dial (`advertise`).
pub fn check_against_ca(identity: &Identity, ca: Arc<RootCertStore>, advertise: &str) {
    let host = advertise
        .rsplit_once(':')
        .map_or(advertise, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let verifier =
        match rustls::client::WebPkiServerVerifier::builder_with_provider(ca, provider()).build() {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("cannot check the certificate against --tls-ca: {e}");
                return;
            }
        };
    let Ok(name) = ServerName::try_from(host.to_string()) else {
        return;
    };
    let key = identity.current();
    let result =
        verifier.verify_server_cert(&key.cert[0], &key.cert[1..], &name, &[], UnixTime::now());
    if let Err(e) = result {
        tracing::warn!(
            cert = %identity.cert_path.display(),
            "peers will refuse this node's certificate for {host:?} (the host in --advertise): {e}"
        );
    }
}

/// Everything a TLS node needs: its reloadable identity, the server config, and how it
/// reaches peers (presenting its identity and verifying them against the CA, under
/// mutual TLS).
pub struct NodeTls {
    pub identity: Arc<Identity>,
    pub server: Arc<ServerConfig>,
    pub client: ClientTls,
    /// `--tls-ca` was given: peer routes require a verified client certificate.
    pub mutual: bool,
}

impl NodeTls {
    /// Reads and checks the files; every error names the file.
    pub fn load(
        cert: &Path,
        key: &Path,
        ca: Option<&Path>,
        advertise: &str,
    ) -> Result<NodeTls, String> {
        let identity = Arc::new(Identity::load(cert, key)?);
        let ca = ca.map(load_ca).transpose()?;
        if let Some(ca) = &ca {
            check_against_ca(&identity, ca.clone(), advertise);
        }
        let server = server_config(identity.clone(), ca.clone())?;
        let client = match &ca {
            Some(ca) => ClientTls::new(ca.clone(), Some(identity.clone()))?,
            None => ClientTls::default(),
        };
        Ok(NodeTls {
            identity,
            server,
            client,
            mutual: ca.is_some(),
        })
    }
}
