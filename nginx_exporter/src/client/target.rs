//! Scrape URIs: `http://host[:port]/path`, `https://...` and upstream's `unix:/path/to/socket[:/request/path]`.

use std::fmt;
use std::path::PathBuf;

/// Where and how to fetch a stub_status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URI as given on the command line (the `addr` label value).
    pub uri: String,
    /// How to connect.
    pub endpoint: Endpoint,
    /// The request target: path and query, at least `/`.
    pub path: String,
    /// The `Host` header value.
    pub host_header: String,
    /// `user:password` from the URI's userinfo, sent as basic auth.
    pub userinfo: Option<String>,
}

/// The transport of a [`Target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Plain HTTP over TCP.
    Http {
        /// Host name or IP address (without brackets).
        host: String,
        /// TCP port.
        port: u16,
    },
    /// HTTP over TLS.
    Https {
        /// Host name or IP address (without brackets); also the TLS server name.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// Plain HTTP over a unix domain socket.
    Unix {
        /// The socket path.
        socket: PathBuf,
    },
}

/// Why a scrape URI is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The scheme is neither `http`, `https` nor `unix`.
    #[error("scrape URI {uri:?}: unsupported scheme, expected http://, https:// or unix:")]
    Scheme {
        /// The URI.
        uri: String,
    },
    /// The `unix:` form has more than three `:`-separated parts or an empty socket path.
    #[error(
        "scrape URI {uri:?}: address for unix domain socket has wrong format, expected unix:/path/to/socket[:/path]"
    )]
    Unix {
        /// The URI.
        uri: String,
    },
    /// The host is missing or malformed.
    #[error("scrape URI {uri:?}: missing or malformed host")]
    Host {
        /// The URI.
        uri: String,
    },
    /// The port is not a number in 1..=65535.
    #[error("scrape URI {uri:?}: invalid port {port:?}")]
    Port {
        /// The URI.
        uri: String,
        /// The port text.
        port: String,
    },
    /// The URI contains whitespace or control characters.
    #[error("scrape URI {uri:?}: contains whitespace or control characters")]
    Characters {
        /// The URI.
        uri: String,
    },
}

impl Target {
    /// Parses a scrape URI.
    pub fn parse(uri: &str) -> Result<Target, TargetError> {
        if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TargetError::Characters { uri: uri.to_string() });
        }
        if let Some(rest) = uri.strip_prefix("unix:") {
            return Target::parse_unix(uri, rest);
        }
        let (tls, rest) = if let Some(r) = strip_prefix_ci(uri, "http://") {
            (false, r)
        } else if let Some(r) = strip_prefix_ci(uri, "https://") {
            (true, r)
        } else {
            return Err(TargetError::Scheme { uri: uri.to_string() });
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        let tail = tail.split('#').next().unwrap_or("");
        let path = if tail.starts_with('/') {
            tail.to_string()
        } else {
            format!("/{tail}")
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, authority),
        };
        let (host, port_text) = split_host_port(hostport).ok_or_else(|| TargetError::Host { uri: uri.to_string() })?;
        if host.is_empty() {
            return Err(TargetError::Host { uri: uri.to_string() });
        }
        let port = match port_text {
            None | Some("") => {
                if tls {
                    443
                } else {
                    80
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    return Err(TargetError::Port {
                        uri: uri.to_string(),
                        port: p.to_string(),
                    });
                }
            },
        };
        let host_header = match port_text {
            Some(p) if !p.is_empty() => hostport.to_string(),
            _ => {
                if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host.to_string()
                }
            }
        };
        let host = host.to_string();
        Ok(Target {
            uri: uri.to_string(),
            endpoint: if tls {
                Endpoint::Https { host, port }
            } else {
                Endpoint::Http { host, port }
            },
            path,
            host_header,
            userinfo,
        })
    }

    fn parse_unix(uri: &str, rest: &str) -> Result<Target, TargetError> {
        // As upstream: `unix:<socket>` or `unix:<socket>:<request path>`; more colons are an error.
        let mut parts = rest.split(':');
        let socket = parts.next().unwrap_or("");
        let path = parts.next().unwrap_or("");
        if parts.next().is_some() || socket.is_empty() {
            return Err(TargetError::Unix { uri: uri.to_string() });
        }
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Ok(Target {
            uri: uri.to_string(),
            endpoint: Endpoint::Unix {
                socket: PathBuf::from(socket),
            },
            path,
            host_header: "unix".to_string(),
            userinfo: None,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`; `None` when brackets are unbalanced or a bare IPv6 address
/// has no brackets.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        if after.is_empty() {
            return Some((host, None));
        }
        return Some((host, Some(after.strip_prefix(':')?)));
    }
    match s.split_once(':') {
        None => Some((s, None)),
        Some((h, p)) if !p.contains(':') && !h.contains(']') => Some((h, Some(p))),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(host: &str, port: u16) -> Endpoint {
        Endpoint::Http {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses() {
        let cases: &[(&str, Endpoint, &str, &str, Option<&str>)] = &[
            (
                "http://127.0.0.1:8080/stub_status",
                http("127.0.0.1", 8080),
                "/stub_status",
                "127.0.0.1:8080",
                None,
            ),
            ("http://localhost", http("localhost", 80), "/", "localhost", None),
            ("HTTP://h/s?x=1#frag", http("h", 80), "/s?x=1", "h", None),
            ("http://h?x", http("h", 80), "/?x", "h", None),
            ("http://[::1]:81/s", http("::1", 81), "/s", "[::1]:81", None),
            ("http://[::1]/s", http("::1", 80), "/s", "[::1]", None),
            ("http://u:p@h:1/s", http("h", 1), "/s", "h:1", Some("u:p")),
            (
                "https://example.org/status",
                Endpoint::Https {
                    host: "example.org".into(),
                    port: 443,
                },
                "/status",
                "example.org",
                None,
            ),
            (
                "unix:/run/nginx.sock:/stub_status",
                Endpoint::Unix {
                    socket: "/run/nginx.sock".into(),
                },
                "/stub_status",
                "unix",
                None,
            ),
            (
                "unix:/run/nginx.sock",
                Endpoint::Unix {
                    socket: "/run/nginx.sock".into(),
                },
                "/",
                "unix",
                None,
            ),
        ];
        for (uri, endpoint, path, host, userinfo) in cases {
            let t = Target::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert_eq!(&t.endpoint, endpoint, "{uri}");
            assert_eq!(t.path, *path, "{uri}");
            assert_eq!(t.host_header, *host, "{uri}");
            assert_eq!(t.userinfo.as_deref(), *userinfo, "{uri}");
            assert_eq!(t.to_string(), *uri);
        }
    }

    #[test]
    fn rejects() {
        type Check = fn(&TargetError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("ftp://h/", |e| matches!(e, TargetError::Scheme { .. })),
            ("127.0.0.1:8080/stub_status", |e| {
                matches!(e, TargetError::Scheme { .. })
            }),
            ("unix:", |e| matches!(e, TargetError::Unix { .. })),
            ("unix:/a:/b:/c", |e| matches!(e, TargetError::Unix { .. })),
            ("http:///x", |e| matches!(e, TargetError::Host { .. })),
            ("http://::1/x", |e| matches!(e, TargetError::Host { .. })),
            ("http://[::1/x", |e| matches!(e, TargetError::Host { .. })),
            ("http://h:0/", |e| matches!(e, TargetError::Port { .. })),
            ("http://h:99999/", |e| matches!(e, TargetError::Port { .. })),
            ("http://h:+80/", |e| matches!(e, TargetError::Port { .. })),
            ("http://h/a b", |e| matches!(e, TargetError::Characters { .. })),
        ];
        for (uri, check) in cases {
            match Target::parse(uri) {
                Ok(t) => panic!("{uri}: accepted as {t:?}"),
                Err(e) => assert!(check(&e), "{uri}: {e:?}"),
            }
        }
    }
}
