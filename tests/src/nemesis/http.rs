//! HTTP to the nodes, with the distinction the history needs: a request that certainly
//! never reached the node (connection refused) versus one whose fate is unknown (sent,
//! then timed out or the connection broke).

use std::time::Duration;

use reqwest::Method;

#[derive(Debug, Clone)]
pub enum Reply {
    /// The node answered.
    Status {
        code: u16,
        location: Option<String>,
        term: Option<u64>,
        reason: Option<String>,
        body: String,
    },
    /// The request never got to the node.
    Unreached(String),
    /// Sent, but no answer: it may or may not have taken effect.
    Lost(String),
}

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    token: String,
    scheme: &'static str,
}

impl Http {
    /// A client sending `token`; with `ca_pem` it speaks https and trusts only that CA.
    pub fn new(token: &str, ca_pem: Option<&str>) -> Result<Http, String> {
        // reqwest is built without a default TLS provider (the node picks ring): install it.
        duckgoose_testkit::tls::install_default_provider();
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = ca_pem {
            let ca = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| format!("the cluster's CA: {e}"))?;
            builder = builder.add_root_certificate(ca);
        }
        let client = builder
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_millis(500))
            .pool_idle_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Http {
            client,
            token: token.to_string(),
            scheme: if ca_pem.is_some() { "https" } else { "http" },
        })
    }

    pub async fn call(
        &self,
        method: Method,
        addr: &str,
        path: &str,
        body: Option<String>,
        timeout: Duration,
    ) -> Reply {
        let url = format!("{}://{addr}{path}", self.scheme);
        let mut req = self
            .client
            .request(method, &url)
            .bearer_auth(&self.token)
            .timeout(timeout);
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Reply::Unreached(short(&e)),
            Err(e) => return Reply::Lost(short(&e)),
        };
        let code = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let location = header("location");
        let term = header("x-duckgoose-term").and_then(|t| t.parse().ok());
        let reason = header("x-duckgoose-reason");
        match resp.text().await {
            Ok(body) => Reply::Status {
                code,
                location,
                term,
                reason,
                body,
            },
            Err(e) => Reply::Lost(format!("{code}, then {}", short(&e))),
        }
    }

    pub async fn get(&self, addr: &str, path: &str, timeout: Duration) -> Reply {
        self.call(Method::GET, addr, path, None, timeout).await
    }
}

fn short(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// `host:port` out of `http://host:port/path` or `https://host:port/path`.
pub fn location_addr(location: &str) -> Option<&str> {
    let rest = location
        .strip_prefix("https://")
        .or_else(|| location.strip_prefix("http://"))?;
    Some(rest.split('/').next().unwrap_or(rest))
}
