//! Certificates for TLS tests, made in-process with rcgen (a CA, node certificates for
//! the addresses nodes are reached on, certificates outside their validity window), and
//! clients that trust a CA and optionally present a client certificate. Everything uses
//! rustls with the `ring` provider.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use rcgen::date_time_ymd;

/// When a certificate is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// 1975 to 4096.
    Now,
    /// 2000 to 2001.
    Expired,
    /// From 4000 on.
    NotYet,
}

/// A certificate authority.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate with its key, in PEM.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    /// The certificate's DER bytes (what a TLS peer receives).
    pub der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).expect("self-sign the CA"),
        }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A node certificate valid for `hosts` (IP addresses or DNS names) as server and
    /// client, valid now.
    pub fn leaf(&self, serial: u64, hosts: &[&str]) -> Leaf {
        self.leaf_valid(serial, hosts, Validity::Now)
    }

    /// Like [`Ca::leaf`], valid as `validity` says.
    pub fn leaf_valid(&self, serial: u64, hosts: &[&str], validity: Validity) -> Leaf {
        let (not_before, not_after) = match validity {
            Validity::Now => (date_time_ymd(1975, 1, 1), date_time_ymd(4096, 1, 1)),
            Validity::Expired => (date_time_ymd(2000, 1, 1), date_time_ymd(2001, 1, 1)),
            Validity::NotYet => (date_time_ymd(4000, 1, 1), date_time_ymd(4096, 1, 1)),
        };
        let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("duckgoose node {serial}"));
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = not_before;
        params.not_after = not_after;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign a leaf");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

impl Leaf {
    /// Writes `DIR/NAME.crt` and `DIR/NAME.key`, each replaced atomically (written to a
    /// temporary file, then renamed), so a node watching them never reads half a file.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        write_atomically(&key, &self.key_pem);
        write_atomically(&cert, &self.cert_pem);
        (cert, key)
    }
}

/// Writes `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, contents).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes `ring` the process-wide rustls provider (reqwest needs one to build a client).
pub fn install_default_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A rustls client config trusting `ca_pem` and presenting `identity`, if any.
pub fn client_config(ca_pem: &str, identity: Option<&Leaf>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots);
    match identity {
        Some(leaf) => {
            let certs = CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("leaf PEM");
            let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).expect("key PEM");
            builder
                .with_client_auth_cert(certs, key)
                .expect("client certificate")
        }
        None => builder.with_no_client_auth(),
    }
}

/// A blocking HTTPS client like the testkit's own (no proxy, no redirects, one fresh
/// connection per request) that trusts `ca_pem` and presents `identity`, if any.
pub fn https_client(ca_pem: &str, identity: Option<&Leaf>) -> reqwest::blocking::Client {
    install_default_provider();
    reqwest::blocking::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .tcp_nodelay(true)
        .tls_backend_preconfigured(client_config(ca_pem, identity))
        .build()
        .expect("build the HTTPS client")
}

/// Opens a fresh TLS connection to `addr` (verifying it against `ca_pem` for `host`)
/// and returns the certificate the server presented, in DER.
pub fn server_cert(addr: &str, host: &str, ca_pem: &str) -> Result<Vec<u8>, String> {
    let config = Arc::new(client_config(ca_pem, None));
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host}: {e}"))?;
    let mut conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut tcp = std::net::TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .map_err(|e| format!("handshake: {e}"))?;
    }
    conn.peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .ok_or_else(|| "the server sent no certificate".to_string())
}
