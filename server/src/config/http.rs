//! The HTTP client settings every outgoing connection shares (upstream's `HTTPClientConfig` from
//! prometheus/common): authentication, TLS, proxies and extra headers.
//!
//! Upstream inlines these fields into scrape configs, SD configs, remote write/read and Alertmanager configs. Serde
//! cannot combine `flatten` with `deny_unknown_fields`, so the `config_struct!` macro appends the fields to each containing
//! struct and gives it an `http_client()` accessor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::types::Secret;
use super::{Path, Problem};

/// `basic_auth`: username and password (each inline or from a file).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    #[serde(default)]
    pub username: String,
    /// A file holding the user name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username_file: String,
    /// The user name from a secret manager reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username_ref: String,
    /// The password.
    #[serde(default, skip_serializing_if = "Secret::is_empty")]
    pub password: Secret,
    /// A file holding the password.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password_file: String,
    /// The password from a secret manager reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password_ref: String,
}

/// `authorization`: an `Authorization: <type> <credentials>` header.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme; `Bearer` when unset.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The credentials.
    #[serde(default, skip_serializing_if = "Secret::is_empty")]
    pub credentials: Secret,
    /// A file holding the credentials.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credentials_file: String,
    /// The credentials from a secret manager reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credentials_ref: String,
}

/// `tls_config`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificate text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca: String,
    /// CA certificate file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_file: String,
    /// CA certificate from a secret manager reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_ref: String,
    /// Client certificate text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert: String,
    /// Client certificate file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    /// Client certificate from a secret manager reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_ref: String,
    /// Client key text.
    #[serde(default, skip_serializing_if = "Secret::is_empty")]
    pub key: Secret,
    /// Client key file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_file: String,
    /// Client key from a secret manager reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_ref: String,
    /// Server name for SNI and verification.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    /// Skip server certificate verification.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Minimum TLS version (`TLS10`..`TLS13`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
    /// Maximum TLS version (`TLS10`..`TLS13`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<TlsVersion>,
}

/// A TLS protocol version as the configuration spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub enum TlsVersion {
    /// TLS 1.0.
    #[serde(rename = "TLS10")]
    Tls10,
    /// TLS 1.1.
    #[serde(rename = "TLS11")]
    Tls11,
    /// TLS 1.2.
    #[serde(rename = "TLS12")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLS13")]
    Tls13,
}

/// `oauth2`: the client-credentials flow.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    /// Client ID.
    #[serde(default)]
    pub client_id: String,
    /// Client secret.
    #[serde(default, skip_serializing_if = "Secret::is_empty")]
    pub client_secret: Secret,
    /// A file holding the client secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_secret_file: String,
    /// The client secret from a secret manager reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_secret_ref: String,
    /// Grant type (`client_credentials` by default, or `urn:ietf:params:oauth:grant-type:jwt-bearer`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub grant_type: String,
    /// JWT signature algorithm for the jwt-bearer grant.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signature_algorithm: String,
    /// JWT issuer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub iss: String,
    /// JWT audience.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub audience: String,
    /// Extra JWT claims.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, serde_json::Value>,
    /// Client key for the jwt-bearer grant.
    #[serde(default, skip_serializing_if = "Secret::is_empty")]
    pub client_certificate_key: Secret,
    /// A file holding the client key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_certificate_key_file: String,
    /// The client key from a secret manager reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_certificate_key_ref: String,
    /// Key ID for the JWT header.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_certificate_key_id: String,
    /// Scopes to request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The token endpoint.
    #[serde(default)]
    pub token_url: String,
    /// Extra token request parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS settings for the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Proxy for the token endpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub proxy_url: String,
    /// Hosts that bypass the proxy.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
    /// Take the proxy from the environment.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy on CONNECT.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// One entry of `http_headers`: values inline, secret or from files.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHeader {
    /// Plain values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Secret values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Files whose contents are values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

pub(crate) fn yes() -> bool {
    true
}

/// Appends the HTTP client fields (and, with `http_sd`, the service discovery fields) to a config struct.
macro_rules! config_struct {
    (http $(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $crate::config::http::http_fields!(config_struct!(@emit [$(#[$m])*] $name) { $($body)* });
        $crate::config::http::http_accessor!($name);
    };
    (http_sd $(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $crate::config::http::http_fields!(config_struct!(@sd [$(#[$m])*] $name) { $($body)* });
        $crate::config::http::http_accessor!($name);
        $crate::config::discovery::sd_accessor!($name);
    };
    (@sd [$($m:tt)*] $name:ident { $($body:tt)* }) => {
        $crate::config::discovery::sd_fields!(config_struct!(@emit [$($m)*] $name) { $($body)* });
    };
    (@emit [$($m:tt)*] $name:ident { $($body:tt)* }) => {
        $($m)*
        #[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name { $($body)* }
    };
}

macro_rules! http_fields {
    ($cb:ident ! ($($args:tt)*) { $($body:tt)* }) => {
        $cb!($($args)* {
            $($body)*
            /// HTTP basic authentication.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub basic_auth: Option<$crate::config::http::BasicAuth>,
            /// The `Authorization` header.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub authorization: Option<$crate::config::http::Authorization>,
            /// OAuth 2.0 client credentials.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub oauth2: Option<$crate::config::http::OAuth2>,
            /// Deprecated bearer token (becomes `authorization`).
            #[serde(default, skip_serializing_if = "crate::config::types::Secret::is_empty")]
            pub bearer_token: $crate::config::types::Secret,
            /// Deprecated bearer token file (becomes `authorization.credentials_file`).
            #[serde(default, skip_serializing_if = "String::is_empty")]
            pub bearer_token_file: String,
            /// TLS settings.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub tls_config: Option<$crate::config::http::TlsConfig>,
            /// Follow HTTP 3xx redirects.
            #[serde(default = "crate::config::http::yes")]
            pub follow_redirects: bool,
            /// Allow HTTP/2.
            #[serde(default = "crate::config::http::yes")]
            pub enable_http2: bool,
            /// Proxy URL.
            #[serde(default, skip_serializing_if = "String::is_empty")]
            pub proxy_url: String,
            /// Hosts that bypass the proxy.
            #[serde(default, skip_serializing_if = "String::is_empty")]
            pub no_proxy: String,
            /// Take the proxy from the environment.
            #[serde(default)]
            pub proxy_from_environment: bool,
            /// Headers sent to the proxy on CONNECT.
            #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
            pub proxy_connect_header: std::collections::BTreeMap<String, Vec<$crate::config::types::Secret>>,
            /// Extra request headers.
            #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
            pub http_headers: std::collections::BTreeMap<String, $crate::config::http::HttpHeader>,
        });
    };
}
pub(crate) use http_fields;

macro_rules! http_accessor {
    ($name:ident) => {
        impl $name {
            /// Makes the relative file paths of the HTTP client settings relative to `dir` (the folder of the file
            /// they were read from), as upstream does.
            pub fn set_http_directory(&mut self, dir: &std::path::Path) {
                use $crate::config::http::join_dir;
                if let Some(b) = &mut self.basic_auth {
                    join_dir(dir, &mut b.username_file);
                    join_dir(dir, &mut b.password_file);
                }
                if let Some(a) = &mut self.authorization {
                    join_dir(dir, &mut a.credentials_file);
                }
                if let Some(o) = &mut self.oauth2 {
                    join_dir(dir, &mut o.client_secret_file);
                    join_dir(dir, &mut o.client_certificate_key_file);
                    if let Some(t) = &mut o.tls_config {
                        t.set_directory(dir);
                    }
                }
                join_dir(dir, &mut self.bearer_token_file);
                if let Some(t) = &mut self.tls_config {
                    t.set_directory(dir);
                }
                for header in self.http_headers.values_mut() {
                    for file in &mut header.files {
                        join_dir(dir, file);
                    }
                }
            }

            /// The HTTP client settings of this section.
            pub fn http_client(&self) -> $crate::config::http::HttpClientConfig {
                $crate::config::http::HttpClientConfig {
                    basic_auth: self.basic_auth.clone(),
                    authorization: self.authorization.clone(),
                    oauth2: self.oauth2.clone(),
                    bearer_token: self.bearer_token.clone(),
                    bearer_token_file: self.bearer_token_file.clone(),
                    tls_config: self.tls_config.clone(),
                    follow_redirects: self.follow_redirects,
                    enable_http2: self.enable_http2,
                    proxy_url: self.proxy_url.clone(),
                    no_proxy: self.no_proxy.clone(),
                    proxy_from_environment: self.proxy_from_environment,
                    proxy_connect_header: self.proxy_connect_header.clone(),
                    http_headers: self.http_headers.clone(),
                }
            }
        }
    };
}
pub(crate) use http_accessor;

config_struct! {
    http
    /// Upstream's `HTTPClientConfig`: the settings of one outgoing HTTP client.
    pub struct HttpClientConfig {}
}

impl Default for HttpClientConfig {
    fn default() -> HttpClientConfig {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: Secret::default(),
            bearer_token_file: String::new(),
            tls_config: None,
            follow_redirects: true,
            enable_http2: true,
            proxy_url: String::new(),
            no_proxy: String::new(),
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
            http_headers: BTreeMap::new(),
        }
    }
}

/// Request headers the user may not set through `http_headers` (the client or protocol owns them).
const RESERVED_HEADERS: [&str; 18] = [
    "authorization",
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-prometheus-scrape-timeout-seconds",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

fn exclusive(path: &Path, fields: &[(&'static str, bool)]) -> Result<(), Problem> {
    let set: Vec<&'static str> = fields.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect();
    if set.len() > 1 {
        return Err(Problem::Exclusive {
            path: path.clone(),
            fields: fields.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        });
    }
    Ok(())
}

impl Authorization {
    /// The scheme sent, `Bearer` when none is configured.
    pub fn scheme(&self) -> &str {
        if self.kind.is_empty() { "Bearer" } else { &self.kind }
    }
}

impl HttpClientConfig {
    /// The `Authorization` header settings in effect: `authorization`, or the deprecated `bearer_token` /
    /// `bearer_token_file` turned into a `Bearer` authorization as upstream does.
    pub fn effective_authorization(&self) -> Option<Authorization> {
        if let Some(a) = &self.authorization {
            return Some(a.clone());
        }
        if self.bearer_token.is_empty() && self.bearer_token_file.is_empty() {
            return None;
        }
        Some(Authorization {
            kind: "Bearer".into(),
            credentials: self.bearer_token.clone(),
            credentials_file: self.bearer_token_file.clone(),
            credentials_ref: String::new(),
        })
    }

    /// Checks upstream's rules: at most one authentication method, one source per secret, consistent proxy and TLS
    /// settings, no reserved headers.
    pub fn validate(&self, path: &Path) -> Result<(), Problem> {
        let bearer = !self.bearer_token.is_empty() || !self.bearer_token_file.is_empty();
        exclusive(
            path,
            &[
                ("bearer_token", !self.bearer_token.is_empty()),
                ("bearer_token_file", !self.bearer_token_file.is_empty()),
            ],
        )?;
        exclusive(
            path,
            &[
                ("basic_auth", self.basic_auth.is_some()),
                ("bearer_token/bearer_token_file", bearer),
            ],
        )?;
        if let Some(basic) = &self.basic_auth {
            let p = path.key("basic_auth");
            exclusive(
                &p,
                &[
                    ("username", !basic.username.is_empty()),
                    ("username_file", !basic.username_file.is_empty()),
                    ("username_ref", !basic.username_ref.is_empty()),
                ],
            )?;
            exclusive(
                &p,
                &[
                    ("password", !basic.password.is_empty()),
                    ("password_file", !basic.password_file.is_empty()),
                    ("password_ref", !basic.password_ref.is_empty()),
                ],
            )?;
        }
        if let Some(auth) = &self.authorization {
            let p = path.key("authorization");
            exclusive(
                path,
                &[("authorization", true), ("bearer_token/bearer_token_file", bearer)],
            )?;
            exclusive(
                &p,
                &[
                    ("credentials", !auth.credentials.is_empty()),
                    ("credentials_file", !auth.credentials_file.is_empty()),
                    ("credentials_ref", !auth.credentials_ref.is_empty()),
                ],
            )?;
            if auth.kind.eq_ignore_ascii_case("basic") {
                return Err(Problem::Invalid {
                    path: p.key("type"),
                    value: auth.kind.clone(),
                    reason: "use basic_auth for basic authentication".into(),
                });
            }
        }
        exclusive(
            path,
            &[
                ("basic_auth", self.basic_auth.is_some()),
                ("oauth2", self.oauth2.is_some()),
                ("authorization", self.authorization.is_some()),
            ],
        )?;
        if let Some(oauth) = &self.oauth2 {
            let p = path.key("oauth2");
            if oauth.client_id.is_empty() {
                return Err(Problem::Missing {
                    path: p.key("client_id"),
                });
            }
            if oauth.token_url.is_empty() {
                return Err(Problem::Missing {
                    path: p.key("token_url"),
                });
            }
            exclusive(
                &p,
                &[
                    ("client_secret", !oauth.client_secret.is_empty()),
                    ("client_secret_file", !oauth.client_secret_file.is_empty()),
                    ("client_secret_ref", !oauth.client_secret_ref.is_empty()),
                ],
            )?;
            if let Some(tls) = &oauth.tls_config {
                tls.validate(&p.key("tls_config"))?;
            }
            validate_proxy(&p, &oauth.proxy_url, &oauth.no_proxy, oauth.proxy_from_environment)?;
        }
        if let Some(tls) = &self.tls_config {
            tls.validate(&path.key("tls_config"))?;
        }
        validate_proxy(path, &self.proxy_url, &self.no_proxy, self.proxy_from_environment)?;
        if !self.proxy_connect_header.is_empty() && self.proxy_url.is_empty() && !self.proxy_from_environment {
            return Err(Problem::Requires {
                path: path.key("proxy_connect_header"),
                needs: "proxy_url or proxy_from_environment",
            });
        }
        for name in self.http_headers.keys() {
            check_header_name(&path.key("http_headers"), name)?;
        }
        Ok(())
    }
}

/// Rejects a header the client owns (`Authorization`, `Host`, the remote-write version header, ...).
pub(crate) fn check_header_name(path: &Path, name: &str) -> Result<(), Problem> {
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(Problem::ReservedHeader {
            path: path.clone(),
            header: name.to_owned(),
        });
    }
    Ok(())
}

fn validate_proxy(path: &Path, proxy_url: &str, no_proxy: &str, from_env: bool) -> Result<(), Problem> {
    if from_env && !proxy_url.is_empty() {
        return Err(Problem::Exclusive {
            path: path.clone(),
            fields: "proxy_from_environment, proxy_url".into(),
        });
    }
    if from_env && !no_proxy.is_empty() {
        return Err(Problem::Exclusive {
            path: path.clone(),
            fields: "proxy_from_environment, no_proxy".into(),
        });
    }
    if !no_proxy.is_empty() && proxy_url.is_empty() {
        return Err(Problem::Requires {
            path: path.key("no_proxy"),
            needs: "proxy_url",
        });
    }
    if !proxy_url.is_empty() {
        super::validate_url(&path.key("proxy_url"), proxy_url, &["http", "https", "socks5"])?;
    }
    Ok(())
}

/// Makes a non-empty relative path relative to `dir`.
pub fn join_dir(dir: &std::path::Path, path: &mut String) {
    if !path.is_empty() && std::path::Path::new(path.as_str()).is_relative() {
        *path = dir.join(path.as_str()).to_string_lossy().into_owned();
    }
}

impl TlsConfig {
    /// Makes the relative certificate and key paths relative to `dir`.
    pub fn set_directory(&mut self, dir: &std::path::Path) {
        join_dir(dir, &mut self.ca_file);
        join_dir(dir, &mut self.cert_file);
        join_dir(dir, &mut self.key_file);
    }

    /// One source per item; a client certificate needs a key and the other way round; min <= max version.
    pub fn validate(&self, path: &Path) -> Result<(), Problem> {
        exclusive(
            path,
            &[
                ("ca", !self.ca.is_empty()),
                ("ca_file", !self.ca_file.is_empty()),
                ("ca_ref", !self.ca_ref.is_empty()),
            ],
        )?;
        let cert = [
            ("cert", !self.cert.is_empty()),
            ("cert_file", !self.cert_file.is_empty()),
            ("cert_ref", !self.cert_ref.is_empty()),
        ];
        let key = [
            ("key", !self.key.is_empty()),
            ("key_file", !self.key_file.is_empty()),
            ("key_ref", !self.key_ref.is_empty()),
        ];
        exclusive(path, &cert)?;
        exclusive(path, &key)?;
        let has_cert = cert.iter().any(|(_, on)| *on);
        let has_key = key.iter().any(|(_, on)| *on);
        if has_cert && !has_key {
            return Err(Problem::Requires {
                path: path.key("cert_file"),
                needs: "key or key_file",
            });
        }
        if has_key && !has_cert {
            return Err(Problem::Requires {
                path: path.key("key_file"),
                needs: "cert or cert_file",
            });
        }
        if let (Some(min), Some(max)) = (self.min_version, self.max_version)
            && min > max
        {
            return Err(Problem::Invalid {
                path: path.key("max_version"),
                value: format!("{max:?}"),
                reason: "max_version must be greater than or equal to min_version".into(),
            });
        }
        Ok(())
    }
}
