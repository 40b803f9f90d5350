//! The server's outgoing HTTP client: one [`HttpClient`] per configuration section with HTTP client settings
//! (scrape jobs, `http_sd_configs`, `kubernetes_sd_configs`, remote write/read, Alertmanagers).
//!
//! Built from [`HttpClientConfig`] (upstream's `HTTPClientConfig`): TLS (CA, client certificate, server name,
//! `insecure_skip_verify`, version bounds), proxies, redirects, HTTP/2, and per-request authentication
//! (`basic_auth`, `authorization` or the deprecated `bearer_token`, `oauth2` client credentials) and extra
//! `http_headers`. Secrets kept in files (`password_file`, `credentials_file`, header `files`,
//! `client_secret_file`) are read when used, so rotated files take effect without a reload, as upstream does. TLS
//! material is read once, when the client is built.
//!
//! TLS is rustls with the `ring` provider ([`tls`]). rustls speaks TLS 1.2 and 1.3 only: `min_version: TLS10` or
//! `TLS11` behave as TLS 1.2. `server_name` is used to verify the server certificate; the SNI sent is still the
//! URL's host. The `oauth2` jwt-bearer grant and the `*_ref` secret-manager references are rejected with
//! [`HttpClientError::Unsupported`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::http::HttpClientConfig;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

mod oauth2;
mod tls;

/// The `User-Agent` of every request unless the caller passes its own.
pub const USER_AGENT: &str = concat!("Prometheus/", env!("CARGO_PKG_VERSION"));

/// Redirects followed when `follow_redirects` is on (Go's net/http limit).
const MAX_REDIRECTS: usize = 10;

/// Why a client could not be built or a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// A file named in the settings could not be read.
    #[error("unable to read {what} file {path}: {source}")]
    ReadFile {
        /// What the file holds (`CA`, `client certificate`, `password`, ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// PEM text held no usable certificate or key.
    #[error("unable to use {what} from {origin}: {reason}")]
    Pem {
        /// What was expected (`CA certificate`, `client certificate`, `client key`).
        what: &'static str,
        /// The file, or `inline` for text in the configuration.
        origin: String,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the TLS settings.
    #[error("client {name}: invalid TLS settings: {source}")]
    Tls {
        /// The client's name.
        name: String,
        /// The rustls error.
        source: rustls::Error,
    },
    /// The system's certificate verifier could not be set up.
    #[error("client {name}: unable to load the system CA certificates: {source}")]
    SystemRoots {
        /// The client's name.
        name: String,
        /// The rustls error.
        source: rustls::Error,
    },
    /// A setting this server does not implement.
    #[error("client {name}: {setting} is not supported")]
    Unsupported {
        /// The client's name.
        name: String,
        /// The setting (`oauth2`, `basic_auth.password_ref`, ...).
        setting: &'static str,
    },
    /// `proxy_url` could not be used.
    #[error("client {name}: invalid proxy_url {url:?}: {source}")]
    Proxy {
        /// The client's name.
        name: String,
        /// The URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// A header name or value is not valid HTTP.
    #[error("invalid value for header {header:?}: {reason}")]
    Header {
        /// The header name.
        header: String,
        /// What was wrong.
        reason: String,
    },
    /// The underlying client could not be built.
    #[error("client {name}: {source}")]
    Build {
        /// The client's name.
        name: String,
        /// The reqwest error.
        source: reqwest::Error,
    },
    /// The request timed out.
    #[error("Get {url:?}: timeout after {timeout:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The OAuth 2.0 token endpoint did not give a token.
    #[error("oauth2 token request to {url} failed: {reason}")]
    OAuth2 {
        /// The token URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The request failed (connection, TLS handshake, protocol).
    #[error("Get {url:?}: {source}")]
    Request {
        /// The URL.
        url: String,
        /// The reqwest error, with its causes.
        #[source]
        source: reqwest::Error,
    },
}

/// A secret given inline or by a file read at request time.
#[derive(Clone, Debug)]
enum Secret {
    Inline(String),
    File(PathBuf),
}

impl Secret {
    /// `None` when neither the inline value nor the file is set.
    fn from_parts(inline: &str, file: &str) -> Option<Secret> {
        if !file.is_empty() {
            Some(Secret::File(PathBuf::from(file)))
        } else if !inline.is_empty() {
            Some(Secret::Inline(inline.to_owned()))
        } else {
            None
        }
    }

    fn read(&self, what: &'static str) -> Result<String, HttpClientError> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim().to_owned())
                .map_err(|source| HttpClientError::ReadFile {
                    what,
                    path: path.clone(),
                    source,
                }),
        }
    }
}

#[derive(Clone, Debug)]
enum Auth {
    None,
    Basic {
        username: Option<Secret>,
        password: Option<Secret>,
    },
    Authorization {
        scheme: String,
        credentials: Option<Secret>,
    },
    OAuth2(Arc<oauth2::TokenSource>),
}

/// One `http_headers` entry: every value is sent.
#[derive(Clone, Debug)]
struct ExtraHeader {
    name: HeaderName,
    values: Vec<Secret>,
}

/// An HTTP client configured from one section's HTTP client settings. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    client: reqwest::Client,
    auth: Auth,
    headers: Vec<ExtraHeader>,
}

impl HttpClient {
    /// Builds a client from `config`; `name` (the job or section name) appears in errors.
    pub fn new(config: &HttpClientConfig, name: &str) -> Result<HttpClient, HttpClientError> {
        let unsupported = |setting: &'static str| HttpClientError::Unsupported {
            name: name.to_owned(),
            setting,
        };
        let auth = if let Some(o) = &config.oauth2 {
            Auth::OAuth2(Arc::new(oauth2::TokenSource::new(o, name)?))
        } else if let Some(basic) = &config.basic_auth {
            if !basic.username_ref.is_empty() {
                return Err(unsupported("basic_auth.username_ref"));
            }
            if !basic.password_ref.is_empty() {
                return Err(unsupported("basic_auth.password_ref"));
            }
            Auth::Basic {
                username: Secret::from_parts(&basic.username, &basic.username_file),
                password: Secret::from_parts(basic.password.expose(), &basic.password_file),
            }
        } else if let Some(a) = config.effective_authorization() {
            if !a.credentials_ref.is_empty() {
                return Err(unsupported("authorization.credentials_ref"));
            }
            Auth::Authorization {
                scheme: a.scheme().to_owned(),
                credentials: Secret::from_parts(a.credentials.expose(), &a.credentials_file),
            }
        } else {
            Auth::None
        };
        let mut headers = Vec::new();
        for (header, h) in &config.http_headers {
            let parsed = HeaderName::from_bytes(header.as_bytes()).map_err(|e| HttpClientError::Header {
                header: header.clone(),
                reason: e.to_string(),
            })?;
            let values = h
                .values
                .iter()
                .map(|v| Secret::Inline(v.clone()))
                .chain(h.secrets.iter().map(|v| Secret::Inline(v.expose().to_owned())))
                .chain(h.files.iter().map(|f| Secret::File(PathBuf::from(f))))
                .collect();
            headers.push(ExtraHeader { name: parsed, values });
        }

        let tls = tls::build_tls(config.tls_config.as_ref(), config.enable_http2, name)?;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(USER_AGENT)
            .redirect(if config.follow_redirects {
                reqwest::redirect::Policy::limited(MAX_REDIRECTS)
            } else {
                reqwest::redirect::Policy::none()
            });
        if !config.enable_http2 {
            builder = builder.http1_only();
        }
        if !config.proxy_url.is_empty() {
            let proxy_error = |source| HttpClientError::Proxy {
                name: name.to_owned(),
                url: config.proxy_url.clone(),
                source,
            };
            let mut proxy = reqwest::Proxy::all(config.proxy_url.as_str()).map_err(proxy_error)?;
            if !config.no_proxy.is_empty() {
                proxy = proxy.no_proxy(reqwest::NoProxy::from_string(&config.no_proxy));
            }
            if !config.proxy_connect_header.is_empty() {
                let mut map = HeaderMap::new();
                for (header, values) in &config.proxy_connect_header {
                    for v in values {
                        let (n, v) = header_pair(header, v.expose())?;
                        map.append(n, v);
                    }
                }
                proxy = proxy.headers(map);
            }
            builder = builder.proxy(proxy);
        } else if !config.proxy_from_environment {
            // reqwest reads HTTP_PROXY and friends by default; upstream only does with proxy_from_environment.
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|source| HttpClientError::Build {
            name: name.to_owned(),
            source,
        })?;
        Ok(HttpClient {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                client,
                auth,
                headers,
            }),
        })
    }

    /// The name given at construction.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The underlying reqwest client (no authentication added).
    pub fn inner(&self) -> &reqwest::Client {
        &self.inner.client
    }

    /// A request with the configured authentication and `http_headers` added; secrets in files are read (and an
    /// OAuth 2.0 token fetched when needed) now.
    pub async fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, HttpClientError> {
        let mut req = self.inner.client.request(method, url);
        for h in &self.inner.headers {
            for v in &h.values {
                let value = v.read("header")?;
                let value = HeaderValue::from_str(&value).map_err(|e| HttpClientError::Header {
                    header: h.name.to_string(),
                    reason: e.to_string(),
                })?;
                req = req.header(h.name.clone(), value);
            }
        }
        match &self.inner.auth {
            Auth::None => {}
            Auth::OAuth2(source) => {
                let (n, v) = header_pair("Authorization", &source.authorization().await?)?;
                req = req.header(n, v);
            }
            Auth::Basic { username, password } => {
                let user = match username {
                    Some(s) => s.read("username")?,
                    None => String::new(),
                };
                let pass = match password {
                    Some(s) => Some(s.read("password")?),
                    None => None,
                };
                req = req.basic_auth(user, pass);
            }
            Auth::Authorization { scheme, credentials } => {
                let creds = match credentials {
                    Some(s) => s.read("credentials")?,
                    None => String::new(),
                };
                let (n, v) = header_pair("Authorization", &format!("{scheme} {creds}"))?;
                req = req.header(n, v);
            }
        }
        Ok(req)
    }

    /// `GET url` with the extra `headers` (which replace configured ones of the same name) and a `timeout` for the
    /// whole exchange, body included. Any status is returned as a response; callers check it.
    pub fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> impl Future<Output = Result<reqwest::Response, HttpClientError>> + Send + 'static {
        let this = self.clone();
        let url = url.to_owned();
        let headers: Result<Vec<(HeaderName, HeaderValue)>, HttpClientError> =
            headers.iter().map(|(n, v)| header_pair(n, v)).collect();
        async move {
            let req = this.prepare_get(&url, headers?, timeout).await?;
            req.send().await.map_err(|source| request_error(&url, timeout, source))
        }
    }

    async fn prepare_get(
        &self,
        url: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        timeout: Duration,
    ) -> Result<reqwest::RequestBuilder, HttpClientError> {
        let mut req = self.request(reqwest::Method::GET, url).await?.timeout(timeout);
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.insert(n, v);
        }
        if !map.is_empty() {
            // `headers` replaces values of the same name.
            let (client, built) = req.build_split();
            let mut built = built.map_err(|source| request_error(url, timeout, source))?;
            for (n, v) in map {
                if let Some(n) = n {
                    built.headers_mut().insert(n, v);
                }
            }
            req = reqwest::RequestBuilder::from_parts(client, built);
        }
        Ok(req)
    }
}

/// Maps a reqwest error to a timeout or request error for `url`.
pub fn request_error(url: &str, timeout: Duration, source: reqwest::Error) -> HttpClientError {
    if source.is_timeout() {
        HttpClientError::Timeout {
            url: url.to_owned(),
            timeout,
        }
    } else {
        HttpClientError::Request {
            url: url.to_owned(),
            source,
        }
    }
}

fn header_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), HttpClientError> {
    let n = HeaderName::from_bytes(name.as_bytes()).map_err(|e| HttpClientError::Header {
        header: name.to_owned(),
        reason: e.to_string(),
    })?;
    let v = HeaderValue::from_str(value).map_err(|e| HttpClientError::Header {
        header: name.to_owned(),
        reason: e.to_string(),
    })?;
    Ok((n, v))
}
