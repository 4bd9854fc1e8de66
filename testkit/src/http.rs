//! A blocking HTTP client for tests (reqwest): one fresh connection per request, no
//! proxy, redirects not followed (tests look at the 307s).

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::Client;

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

pub(crate) fn client() -> &'static Client {
    // A static is never dropped, so using this from a thread that also runs a tokio
    // runtime is safe.
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        crate::tls::install_default_provider();
        Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .tcp_nodelay(true)
            .build()
            .expect("build the HTTP client")
    })
}

/// One request to `http://{addr}{path}`. `Err` when the node is down or silent.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Resp> {
    request_with(
        client(),
        &format!("http://{addr}"),
        method,
        path,
        headers,
        body,
        timeout,
    )
}

/// One request to `{base}{path}` (`base`: `http://host:port` or `https://host:port`) on
/// `client` (e.g. one from [`crate::tls::https_client`]).
pub fn request_with(
    client: &Client,
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Resp> {
    let method = Method::from_bytes(method.as_bytes()).map_err(std::io::Error::other)?;
    let mut req = client
        .request(method, format!("{base}{path}"))
        .timeout(timeout);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if !body.is_empty() {
        req = req.body(body.to_vec());
    }
    let resp = req.send().map_err(std::io::Error::other)?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).to_string(),
            )
        })
        .collect();
    let body = resp.bytes().map_err(std::io::Error::other)?;
    Ok(Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

pub fn get(addr: &str, path: &str) -> std::io::Result<Resp> {
    request(addr, "GET", path, &[], b"", Duration::from_secs(5))
}
