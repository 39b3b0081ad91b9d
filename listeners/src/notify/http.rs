//! HTTP through reqwest's blocking client (rustls, webpki roots).

use std::time::Duration;

use reqwest::blocking::Client;

/// A client with connect and total timeouts.
pub fn client(timeout: Duration, insecure: bool) -> Result<Client, String> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .danger_accept_invalid_certs(insecure)
        .user_agent(concat!(
            "supervisor-rs-listeners/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// POSTs `body`; a status outside 2xx is an error carrying the status and the start of the
/// reply body.
pub fn post(
    client: &Client,
    url: &str,
    headers: &[(String, String)],
    content_type: &str,
    body: &str,
) -> Result<String, String> {
    let mut req = client
        .post(url)
        .header("Content-Type", content_type)
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req
        .send()
        .map_err(|e| format!("POST {url}: {}", error_chain(&e)))?;
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    if status.is_success() {
        Ok(format!("{status}"))
    } else {
        let snippet: String = text.chars().take(300).collect();
        Err(format!("POST {url}: {status}: {}", snippet.trim()))
    }
}

/// An error with its sources (reqwest's top-level message alone says little).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = inner.source();
    }
    s
}
