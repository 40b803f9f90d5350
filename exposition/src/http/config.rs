//! The `--web.config.file` format of prometheus/exporter-toolkit: TLS, HTTP server options and basic auth.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # relative paths are relative to the config file
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: ca.crt
//!   min_version: TLS12
//! http_server_config:
//!   http2: true
//!   headers:
//!     X-Frame-Options: deny
//! basic_auth_users:
//!   alice: $2y$10$...              # bcrypt hash
//! ```
//!
//! [`WebConfig::load`] parses (unknown fields are errors, as with Go's strict YAML decoding), applies upstream
//! defaults and validates everything that can be checked without a connection: header names and values, bcrypt
//! hashes, TLS versions, cipher suite and curve names, the client auth policy and that the certificate, key and
//! CA files can be read and parsed. Errors name the file and the field.
//!
//! While serving, the runtime re-reads the file when its modification time changes: users, headers and the
//! rate limit apply from the next request (a file that no longer validates is logged and the last good settings
//! stay). Certificate and key files are re-read when they change, at the next handshake. Other TLS settings
//! (client auth, versions, suites) are fixed at startup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

/// Errors from loading a web config file.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("web config {path}: cannot read: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or has unknown or mistyped fields.
    #[error("web config {path}: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A field has a value that is not allowed.
    #[error("web config {path}: {field}: {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The field, e.g. `tls_server_config.min_version`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A certificate, key or CA file referenced by the config could not be read.
    #[error("web config {path}: {field}: cannot read {file}: {source}")]
    ReadReferenced {
        /// The config file.
        path: PathBuf,
        /// The field that names the file.
        field: &'static str,
        /// The referenced file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The whole web config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// TLS settings; TLS is on when any certificate, key or client auth field is set.
    pub tls_server_config: TlsServerConfig,
    /// HTTP server settings.
    pub http_server_config: HttpServerConfig,
    /// Request rate limit over all requests.
    pub rate_limit: RateLimitConfig,
    /// Users allowed in with basic auth, mapped to their bcrypt password hashes. Empty: no authentication.
    pub basic_auth_users: BTreeMap<String, String>,
}

/// `tls_server_config`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsServerConfig {
    /// The server certificate chain (PEM), inline.
    pub cert: Option<String>,
    /// The server private key (PEM), inline.
    pub key: Option<String>,
    /// CA certificates (PEM) for client certificates, inline.
    pub client_ca: Option<String>,
    /// File with the server certificate chain (PEM).
    pub cert_file: Option<PathBuf>,
    /// File with the server private key (PEM).
    pub key_file: Option<PathBuf>,
    /// Client certificate policy (Go's `tls.ClientAuthType` names).
    pub client_auth_type: Option<String>,
    /// File with CA certificates (PEM) for client certificates.
    pub client_ca_file: Option<PathBuf>,
    /// Allowed TLS 1.2 cipher suites by Go name; empty means the defaults.
    pub cipher_suites: Vec<String>,
    /// Key exchange groups by Go name (`X25519`, `CurveP256`, `CurveP384`); empty means the defaults.
    pub curve_preferences: Vec<String>,
    /// Minimum TLS version (`TLS10` .. `TLS13`), default `TLS12`.
    pub min_version: Option<String>,
    /// Maximum TLS version, default `TLS13`.
    pub max_version: Option<String>,
    /// Accepted for compatibility; the server's suite order is always used.
    pub prefer_server_cipher_suites: Option<bool>,
    /// Client certificate SANs (DNS names or IP addresses) of which one must be present.
    pub client_allowed_sans: Option<Vec<String>>,
}

/// `http_server_config`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpServerConfig {
    /// Offer HTTP/2 over TLS (default true).
    pub http2: bool,
    /// Extra response headers; only a few security headers may be set.
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

/// `rate_limit`: a token bucket over all requests; requests over it get 429.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Bucket size.
    pub burst: u32,
    /// Time to earn one token, as a Go duration (`1s`, `100ms`); unset or `0s` disables the limit.
    pub interval: Option<String>,
}

/// The headers `http_server_config.headers` may set, with their allowed values (empty: any value).
const EXTRA_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// A TLS protocol version as named in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// `TLS10`
    Tls10,
    /// `TLS11`
    Tls11,
    /// `TLS12`
    Tls12,
    /// `TLS13`
    Tls13,
}

impl FromStr for TlsVersion {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "TLS10" => TlsVersion::Tls10,
            "TLS11" => TlsVersion::Tls11,
            "TLS12" => TlsVersion::Tls12,
            "TLS13" => TlsVersion::Tls13,
            _ => return Err(()),
        })
    }
}

/// Client certificate policies, as Go's `tls.ClientAuthType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is requested.
    NoClientCert,
    /// A certificate is requested but not required or verified.
    RequestClientCert,
    /// A certificate is required but not verified against a CA.
    RequireAnyClientCert,
    /// A certificate is optional; if given, it must chain to the client CA.
    VerifyClientCertIfGiven,
    /// A certificate chaining to the client CA is required.
    RequireAndVerifyClientCert,
}

impl FromStr for ClientAuth {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "" | "NoClientCert" => ClientAuth::NoClientCert,
            "RequestClientCert" => ClientAuth::RequestClientCert,
            "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
            _ => return Err(()),
        })
    }
}

/// Where PEM material comes from: a file (re-read when it changes) or inline text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemSource {
    /// A file path (already joined with the config file's directory).
    File(PathBuf),
    /// Inline PEM text.
    Inline(String),
}

/// The validated TLS part of the config.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsSettings {
    /// Server certificate chain.
    pub cert: PemSource,
    /// Server private key.
    pub key: PemSource,
    /// Client CA certificates, if any.
    pub client_ca: Option<PemSource>,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
    /// Lowest version offered (TLS 1.0/1.1 settings mean 1.2: that is the lowest this implementation has).
    pub min_version: TlsVersion,
    /// Highest version offered.
    pub max_version: TlsVersion,
    /// TLS 1.2 cipher suites by Go name, empty for the defaults.
    pub cipher_suites: Vec<String>,
    /// Key exchange groups by Go name, empty for the defaults.
    pub curves: Vec<String>,
    /// Allowed client SANs, if restricted.
    pub client_allowed_sans: Option<Vec<String>>,
}

/// A loaded and validated web config.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidConfig {
    /// TLS settings, `None` for plain HTTP.
    pub tls: Option<TlsSettings>,
    /// Offer HTTP/2 over TLS.
    pub http2: bool,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Users and bcrypt hashes.
    pub users: BTreeMap<String, String>,
    /// Rate limit: (burst, interval), `None` when off.
    pub rate_limit: Option<(u32, Duration)>,
}

impl WebConfig {
    /// Reads, parses and validates a web config file.
    pub fn load(path: &Path) -> Result<ValidConfig, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        WebConfig::parse(&text, path)?.validate(path)
    }

    /// Parses the YAML text of a config file (`path` is for messages).
    pub fn parse(text: &str, path: &Path) -> Result<WebConfig, WebConfigError> {
        if text.trim().is_empty() {
            return Ok(WebConfig::default());
        }
        serde_saphyr::from_str::<Option<WebConfig>>(text)
            .map(Option::unwrap_or_default)
            .map_err(|e| WebConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
    }

    /// Checks the values and resolves relative paths against the directory of `path`.
    pub fn validate(self, path: &Path) -> Result<ValidConfig, WebConfigError> {
        let invalid = |field: &str, message: String| WebConfigError::Invalid {
            path: path.to_path_buf(),
            field: field.to_string(),
            message,
        };
        let mut headers = Vec::new();
        for (name, value) in &self.http_server_config.headers {
            let Some((canonical, allowed)) = EXTRA_HEADERS.iter().find(|(h, _)| h.eq_ignore_ascii_case(name)) else {
                return Err(invalid(
                    "http_server_config.headers",
                    format!("HTTP header {name:?} can not be configured"),
                ));
            };
            if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
                return Err(invalid(
                    "http_server_config.headers",
                    format!("invalid value for {canonical}. Expected one of: {allowed:?}, but got: {value:?}"),
                ));
            }
            if http::HeaderValue::from_str(value).is_err() {
                return Err(invalid(
                    "http_server_config.headers",
                    format!("value of {canonical} is not a valid header value"),
                ));
            }
            headers.push((canonical.to_string(), value.clone()));
        }
        for (user, hash) in &self.basic_auth_users {
            if bcrypt::HashParts::from_str(hash).is_err() {
                return Err(invalid(
                    "basic_auth_users",
                    format!("user {user:?}: password is not a bcrypt hash"),
                ));
            }
        }
        let rate_limit = match &self.rate_limit.interval {
            None => None,
            Some(text) => {
                let interval = parse_go_duration(text)
                    .ok_or_else(|| invalid("rate_limit.interval", format!("invalid duration {text:?}")))?;
                (!interval.is_zero()).then_some((self.rate_limit.burst, interval))
            }
        };
        let dir = path.parent().unwrap_or(Path::new(""));
        let tls = tls_settings(&self.tls_server_config, dir, &invalid)?;
        if let Some(tls) = &tls {
            check_tls_material(tls, path)?;
        }
        Ok(ValidConfig {
            tls,
            http2: self.http_server_config.http2,
            headers,
            users: self.basic_auth_users,
            rate_limit,
        })
    }
}

fn tls_settings(
    c: &TlsServerConfig,
    dir: &Path,
    invalid: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<Option<TlsSettings>, WebConfigError> {
    let nonempty = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    let nonempty_path = |p: &Option<PathBuf>| p.as_deref().is_some_and(|p| !p.as_os_str().is_empty());
    let enabled = nonempty_path(&c.cert_file)
        || nonempty(&c.cert)
        || nonempty_path(&c.key_file)
        || nonempty(&c.key)
        || nonempty_path(&c.client_ca_file)
        || nonempty(&c.client_ca)
        || nonempty(&c.client_auth_type);
    if !enabled {
        return Ok(None);
    }
    let source = |file: &Option<PathBuf>, inline: &Option<String>| {
        if nonempty_path(file) {
            file.as_ref().map(|f| PemSource::File(dir.join(f)))
        } else if nonempty(inline) {
            inline.clone().map(PemSource::Inline)
        } else {
            None
        }
    };
    let cert = source(&c.cert_file, &c.cert)
        .ok_or_else(|| invalid("tls_server_config", "missing one of cert or cert_file".into()))?;
    let key = source(&c.key_file, &c.key)
        .ok_or_else(|| invalid("tls_server_config", "missing one of key or key_file".into()))?;
    let client_ca = source(&c.client_ca_file, &c.client_ca);
    let auth_name = c.client_auth_type.as_deref().unwrap_or("");
    let client_auth = ClientAuth::from_str(auth_name).map_err(|()| {
        invalid(
            "tls_server_config.client_auth_type",
            format!("invalid ClientAuth: {auth_name}"),
        )
    })?;
    if client_ca.is_some() && client_auth == ClientAuth::NoClientCert {
        return Err(invalid(
            "tls_server_config.client_auth_type",
            "client CA's have been configured without a Client Auth Policy".into(),
        ));
    }
    if client_ca.is_none()
        && matches!(
            client_auth,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    {
        return Err(invalid(
            "tls_server_config.client_ca_file",
            format!("client_auth_type {auth_name} needs client_ca_file or client_ca to verify client certificates"),
        ));
    }
    if c.client_allowed_sans.is_some()
        && !matches!(
            client_auth,
            ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
        )
    {
        return Err(invalid(
            "tls_server_config.client_allowed_sans",
            "client_allowed_sans requires client_auth_type to be one of RequireAnyClientCert or \
             RequireAndVerifyClientCert"
                .into(),
        ));
    }
    let version = |field: &str, v: &Option<String>, default: TlsVersion| match v.as_deref() {
        None | Some("") => Ok(default),
        Some(s) => TlsVersion::from_str(s).map_err(|()| invalid(field, format!("unknown TLS version: {s}"))),
    };
    let min_version = version("tls_server_config.min_version", &c.min_version, TlsVersion::Tls12)?;
    let max_version = version("tls_server_config.max_version", &c.max_version, TlsVersion::Tls13)?;
    if max_version < TlsVersion::Tls12 {
        return Err(invalid(
            "tls_server_config.max_version",
            "TLS versions below TLS12 are not supported".into(),
        ));
    }
    if max_version < min_version {
        return Err(invalid(
            "tls_server_config.max_version",
            "max_version is lower than min_version".into(),
        ));
    }
    for name in &c.cipher_suites {
        super::tls::cipher_suite(name).map_err(|m| invalid("tls_server_config.cipher_suites", m))?;
    }
    for name in &c.curve_preferences {
        super::tls::kx_group(name).map_err(|m| invalid("tls_server_config.curve_preferences", m))?;
    }
    Ok(Some(TlsSettings {
        cert,
        key,
        client_ca,
        client_auth,
        min_version: min_version.max(TlsVersion::Tls12),
        max_version,
        cipher_suites: c.cipher_suites.clone(),
        curves: c.curve_preferences.clone(),
        client_allowed_sans: c.client_allowed_sans.clone(),
    }))
}

/// Reads the certificate, key and CA once so a bad file is a startup error.
fn check_tls_material(tls: &TlsSettings, path: &Path) -> Result<(), WebConfigError> {
    let read = |field: &'static str, src: &PemSource| -> Result<Vec<u8>, WebConfigError> {
        match src {
            PemSource::Inline(text) => Ok(text.clone().into_bytes()),
            PemSource::File(file) => std::fs::read(file).map_err(|source| WebConfigError::ReadReferenced {
                path: path.to_path_buf(),
                field,
                file: file.clone(),
                source,
            }),
        }
    };
    let invalid = |field: &str, message: String| WebConfigError::Invalid {
        path: path.to_path_buf(),
        field: field.to_string(),
        message,
    };
    let cert = read("cert_file", &tls.cert)?;
    let key = read("key_file", &tls.key)?;
    super::tls::certified_key(&cert, &key).map_err(|m| invalid("tls_server_config.cert_file", m))?;
    if let Some(ca) = &tls.client_ca {
        let pem = read("client_ca_file", ca)?;
        super::tls::root_store(&pem).map_err(|m| invalid("tls_server_config.client_ca_file", m))?;
    }
    Ok(())
}

/// Parses a Go `time.Duration` string such as `1s`, `1m30s`, `250ms` or `0`.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

    fn load(yaml: &str) -> Result<ValidConfig, String> {
        let path = Path::new("/etc/exporter/web.yml");
        WebConfig::parse(yaml, path)
            .and_then(|c| c.validate(path))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn valid_configs() {
        let empty = load("").unwrap();
        assert_eq!(empty.tls, None);
        assert!(empty.http2);
        assert!(empty.users.is_empty());

        let c = load(&format!(
            "basic_auth_users:\n  alice: {HASH}\nhttp_server_config:\n  http2: false\n  headers:\n    \
             X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\nrate_limit:\n  burst: 5\n  \
             interval: 1s\n"
        ))
        .unwrap();
        assert_eq!(c.users.get("alice").map(String::as_str), Some(HASH));
        assert!(!c.http2);
        assert_eq!(
            c.headers,
            [
                ("Strict-Transport-Security".to_string(), "max-age=31536000".to_string()),
                ("X-Frame-Options".to_string(), "deny".to_string())
            ]
        );
        assert_eq!(c.rate_limit, Some((5, Duration::from_secs(1))));
    }

    #[test]
    fn invalid_configs_name_file_and_field() {
        let cases: &[(&str, &str)] = &[
            ("unknown_key: 1\n", "unknown_key"),
            ("tls_server_config:\n  cert_fil: x\n", "cert_fil"),
            ("http_server_config:\n  http2: maybe\n", "/etc/exporter/web.yml"),
            (
                "http_server_config:\n  headers:\n    X-Foo: bar\n",
                "http_server_config.headers: HTTP header \"X-Foo\" can not be configured",
            ),
            (
                "http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n",
                "invalid value for X-Content-Type-Options",
            ),
            ("basic_auth_users:\n  bob: secret\n", "basic_auth_users: user \"bob\""),
            (
                "tls_server_config:\n  key_file: k\n",
                "missing one of cert or cert_file",
            ),
            ("tls_server_config:\n  cert_file: c\n", "missing one of key or key_file"),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: Sometimes\n",
                "tls_server_config.client_auth_type: invalid ClientAuth: Sometimes",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_ca_file: ca\n",
                "without a Client Auth Policy",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: RequireAndVerifyClientCert\n",
                "needs client_ca_file",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_allowed_sans: [a]\n",
                "client_allowed_sans requires",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS14\n",
                "tls_server_config.min_version: unknown TLS version: TLS14",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  max_version: TLS11\n",
                "below TLS12",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS13\n  max_version: TLS12\n",
                "lower than min_version",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  cipher_suites: [TLS_FOO]\n",
                "unknown cipher: TLS_FOO",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  curve_preferences: [CurveP999]\n",
                "unknown curve: CurveP999",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n",
                "cert_file: cannot read /etc/exporter/c",
            ),
            (
                "rate_limit:\n  interval: soon\n",
                "rate_limit.interval: invalid duration",
            ),
        ];
        for (yaml, want) in cases {
            let err = load(yaml).expect_err(yaml);
            assert!(err.starts_with("web config /etc/exporter/web.yml: "), "{err}");
            assert!(err.contains(want), "{yaml:?}: {err}");
        }
    }

    #[test]
    fn go_durations() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("1s", Some(Duration::from_secs(1))),
            ("1m30s", Some(Duration::from_secs(90))),
            ("250ms", Some(Duration::from_millis(250))),
            ("1.5h", Some(Duration::from_secs(5400))),
            ("", None),
            ("5", None),
            ("s", None),
            ("1d", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_go_duration(s), *want, "{s}");
        }
    }
}
