//! Node addresses: how a URL is written, and whether a redirect stays inside the
//! cluster (the token is sent only there). The `duckgoose` operator commands use these
//! too.

/// `127.0.0.1:9901` or `http://127.0.0.1:9901/` → `http://127.0.0.1:9901`; a bare
/// address gets `default_scheme` (`http` or `https`).
pub fn normalize_with(url: &str, default_scheme: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_string()
    } else {
        format!("{default_scheme}://{url}")
    }
}

/// [`normalize_with`] defaulting to `http`.
pub fn normalize(url: &str) -> String {
    normalize_with(url, "http")
}

/// The `host:port` of an http(s) URL, the port made explicit; `None` for anything else
/// (another scheme, user info, no host).
pub fn host_port(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    Some(format!("{host}:{port}"))
}

/// Is `location` an http(s) URL whose `host:port` is one of `members` (each `host:port`)?
pub fn is_member_url(location: &str, members: &[String]) -> bool {
    host_port(location).is_some_and(|addr| members.contains(&addr))
}

/// The member addresses in a node's `/status` JSON (`members: [{id, addr}]`).
pub fn addrs_in_status(status: &serde_json::Value) -> Vec<String> {
    status["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["addr"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalized() {
        assert_eq!(normalize("127.0.0.1:9901"), "http://127.0.0.1:9901");
        assert_eq!(normalize(" http://a:1/ "), "http://a:1");
        assert_eq!(normalize_with("a:1", "https"), "https://a:1");
        assert_eq!(normalize_with("http://a:1", "https"), "http://a:1");
    }

    #[test]
    fn the_token_follows_a_redirect_only_to_a_member_address() {
        let members = vec!["127.0.0.1:9901".to_string(), "[::1]:9902".to_string()];
        assert!(is_member_url("http://127.0.0.1:9901/kv/k", &members));
        assert!(is_member_url("https://127.0.0.1:9901/kv/k", &members));
        assert!(is_member_url("http://[::1]:9902/admin/members/3", &members));
        for elsewhere in [
            "http://127.0.0.1:9903/kv/k",
            "http://evil.example:9901/kv/k",
            "http://127.0.0.1/kv/k",
            "ftp://127.0.0.1:9901/kv/k",
            "/kv/k",
            "not a url",
            "http://user@127.0.0.1:9901/",
            "http://user@127.0.0.2:9901/",
        ] {
            assert!(!is_member_url(elsewhere, &members), "{elsewhere}");
        }
    }

    #[test]
    fn member_addresses_from_status() {
        let status = serde_json::json!({"members": [{"id": 1, "addr": "a:1"}, {"id": 2}]});
        assert_eq!(addrs_in_status(&status), vec!["a:1".to_string()]);
        assert!(addrs_in_status(&serde_json::json!({})).is_empty());
    }
}
