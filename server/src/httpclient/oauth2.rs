//! `oauth2`: the client-credentials grant. A token is fetched from `token_url` (client ID and secret in a Basic
//! `Authorization` header, `scopes` and `endpoint_params` in the form body), cached, and fetched again 10 seconds
//! before it expires, as Go's `clientcredentials` package does. The token endpoint is reached with the section's
//! `oauth2.tls_config` and proxy settings.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::http::{HttpClientConfig, OAuth2};

use super::{HttpClient, HttpClientError, Secret};

/// Tokens are renewed this long before they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// How long a token request may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Token {
    /// `<type> <access token>`.
    header: String,
    /// When to fetch a new one (`None`: never).
    renew_at: Option<Instant>,
}

/// Fetches and caches tokens for one client.
#[derive(Debug)]
pub(super) struct TokenSource {
    client: HttpClient,
    token_url: String,
    client_id: String,
    secret: Option<Secret>,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
    cached: tokio::sync::Mutex<Option<Token>>,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// `application/x-www-form-urlencoded` escaping (Go's `url.QueryEscape`).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The token type as Go's oauth2 package normalizes it.
fn token_type(raw: &str) -> &str {
    if raw.is_empty() || raw.eq_ignore_ascii_case("bearer") {
        "Bearer"
    } else if raw.eq_ignore_ascii_case("mac") {
        "MAC"
    } else if raw.eq_ignore_ascii_case("basic") {
        "Basic"
    } else {
        raw
    }
}

impl TokenSource {
    pub(super) fn new(config: &OAuth2, name: &str) -> Result<TokenSource, HttpClientError> {
        let unsupported = |setting: &'static str| HttpClientError::Unsupported {
            name: name.to_owned(),
            setting,
        };
        if !config.grant_type.is_empty() && config.grant_type != "client_credentials" {
            return Err(unsupported("oauth2 grant_type other than client_credentials"));
        }
        if !config.client_secret_ref.is_empty() {
            return Err(unsupported("oauth2.client_secret_ref"));
        }
        let endpoint = HttpClientConfig {
            tls_config: config.tls_config.clone(),
            proxy_url: config.proxy_url.clone(),
            no_proxy: config.no_proxy.clone(),
            proxy_from_environment: config.proxy_from_environment,
            proxy_connect_header: config.proxy_connect_header.clone(),
            ..HttpClientConfig::default()
        };
        Ok(TokenSource {
            client: HttpClient::new(&endpoint, &format!("{name}/oauth2"))?,
            token_url: config.token_url.clone(),
            client_id: config.client_id.clone(),
            secret: Secret::from_parts(config.client_secret.expose(), &config.client_secret_file),
            scopes: config.scopes.clone(),
            params: config
                .endpoint_params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// The `Authorization` header value, fetching a token when none is cached or it is about to expire.
    pub(super) async fn authorization(&self) -> Result<String, HttpClientError> {
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref()
            && t.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(t.header.clone());
        }
        let token = self.fetch().await?;
        let header = token.header.clone();
        *cached = Some(token);
        Ok(header)
    }

    async fn fetch(&self) -> Result<Token, HttpClientError> {
        let fail = |reason: String| HttpClientError::OAuth2 {
            url: self.token_url.clone(),
            reason,
        };
        let secret = match &self.secret {
            Some(s) => s.read("client secret")?,
            None => String::new(),
        };
        let scope = self.scopes.join(" ");
        let mut pairs: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if !scope.is_empty() {
            pairs.push(("scope", &scope));
        }
        for (k, v) in &self.params {
            pairs.push((k, v));
        }
        let started = Instant::now();
        // The endpoint's client has no authentication or extra headers of its own: use reqwest directly.
        let resp = self
            .client
            .inner()
            .post(&self.token_url)
            .basic_auth(escape(&self.client_id), Some(escape(&secret)))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(form(&pairs))
            .timeout(TOKEN_TIMEOUT)
            .send()
            .await
            .map_err(|e| super::request_error(&self.token_url, TOKEN_TIMEOUT, e))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| fail(e.to_string()))?;
        if !status.is_success() {
            return Err(fail(format!(
                "HTTP status {status}: {}",
                body.chars().take(256).collect::<String>()
            )));
        }
        let parsed: TokenResponse = serde_json::from_str(&body).map_err(|e| fail(format!("invalid response: {e}")))?;
        if parsed.access_token.is_empty() {
            return Err(fail("the response has no access_token".into()));
        }
        let expires_in = match parsed.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        Ok(Token {
            header: format!("{} {}", token_type(&parsed.token_type), parsed.access_token),
            renew_at: expires_in.filter(|s| *s > 0).map(|s| {
                (started + Duration::from_secs(s))
                    .checked_sub(EXPIRY_MARGIN)
                    .unwrap_or(started)
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_and_token_types() {
        assert_eq!(
            form(&[("grant_type", "client_credentials"), ("scope", "a b/c"), ("x", "é&=")]),
            "grant_type=client_credentials&scope=a+b%2Fc&x=%C3%A9%26%3D"
        );
        for (raw, want) in [
            ("", "Bearer"),
            ("bearer", "Bearer"),
            ("MAC", "MAC"),
            ("basic", "Basic"),
            ("DPoP", "DPoP"),
        ] {
            assert_eq!(token_type(raw), want);
        }
    }
}
