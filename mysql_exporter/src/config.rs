//! The `.my.cnf` credentials file (`--config.my-cnf`) and how it combines with `--mysqld.address`,
//! `--mysqld.username` and `MYSQLD_EXPORTER_PASSWORD` into [`ClientConfig`], as upstream's config package does.
//!
//! The file is INI: `[section]` headers, `key = value` lines (values may be quoted), bare boolean keys,
//! `#`/`;` comments. A missing file is not an error (upstream loads it loosely); flags fill `host`, `port` and
//! `user` where `[client]` leaves them empty, and the environment variable is the password unless the file has
//! one. `$NAME` and `${NAME}` in values are replaced by environment variables.
//!
//! Every section is an *auth module* for `/probe?auth_module=<section>` ([`MyCnf`]). A dotted section name is a
//! child of the section named by its prefix and inherits the keys it does not set (`[client.servers]` inherits
//! from `[client]`, including what the flags filled in), as the INI library upstream uses does. `[client]` must
//! resolve (it serves `/metrics`); another section that does not (no user, a bad port) is logged and left out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors from reading the credentials.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("failed to load {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system error.
        #[source]
        source: std::io::Error,
    },
    /// A line is neither a section, a key, a comment nor blank.
    #[error("failed to load {path}: line {line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// `--mysqld.address` is not `host:port`.
    #[error("failed to parse address {address:?}: {message}")]
    Address {
        /// The flag value.
        address: String,
        /// What is wrong.
        message: String,
    },
    /// A value that must be a number or boolean is not.
    #[error("{path}: [client] {key}: invalid value {value:?}")]
    Value {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// No user in the file or the flags.
    #[error("no user specified in section or parent (set user in [client] of {path} or --mysqld.username)")]
    NoUser {
        /// The file.
        path: PathBuf,
    },
}

/// Parsed INI sections: section name -> key -> value.
pub type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// Parses INI text (`path` only names the file in errors).
pub fn parse_ini(text: &str, path: &Path) -> Result<Sections, ConfigError> {
    let mut sections = Sections::new();
    let mut current = String::from("DEFAULT");
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(ConfigError::Syntax {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: format!("unclosed section header {line:?}"),
                });
            };
            current = name.trim().to_string();
            sections.entry(current.clone()).or_default();
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), unquote(v.trim())),
            // A bare key is a boolean set to true (MySQL option files allow this).
            None => (line, "true".to_string()),
        };
        if key.is_empty() {
            return Err(ConfigError::Syntax {
                path: path.to_path_buf(),
                line: i + 1,
                message: "empty key".to_string(),
            });
        }
        sections
            .entry(current.clone())
            .or_default()
            .insert(key.to_string(), value);
    }
    Ok(sections)
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// User name.
    pub user: String,
    /// Password (empty for none).
    pub password: String,
    /// Host for TCP.
    pub host: String,
    /// Port for TCP.
    pub port: u16,
    /// Unix socket path; when set it is used instead of TCP.
    pub socket: Option<PathBuf>,
    /// `ssl-ca`: CA bundle; enables TLS.
    pub ssl_ca: Option<PathBuf>,
    /// `ssl-cert`: client certificate.
    pub ssl_cert: Option<PathBuf>,
    /// `ssl-key`: client key.
    pub ssl_key: Option<PathBuf>,
    /// `ssl-skip-verfication` (upstream's spelling) or `--tls.insecure-skip-verify`: accept any certificate.
    pub tls_skip_verify: bool,
    /// `tls` (`true`, `skip-verify`, `preferred`): TLS without a custom CA.
    pub tls: Option<String>,
}

impl ClientConfig {
    /// Whether the connection uses TLS.
    pub fn uses_tls(&self) -> bool {
        self.ssl_ca.is_some()
            || self.tls_skip_verify
            || matches!(self.tls.as_deref(), Some("true" | "skip-verify" | "preferred"))
    }

    /// This configuration aimed at `target` (`host:port`, as `/probe?target=` gives it) instead of its own
    /// host, port and socket.
    pub fn with_target(&self, target: &str) -> Result<ClientConfig, ConfigError> {
        let (host, port) = split_host_port(target)?;
        let port = port.parse::<u16>().map_err(|_| ConfigError::Address {
            address: target.to_string(),
            message: format!("invalid port {port:?}"),
        })?;
        Ok(ClientConfig {
            host: host.to_string(),
            port,
            socket: None,
            ..self.clone()
        })
    }

    /// A description of the target for logs (`host:port` or the socket path).
    pub fn target(&self) -> String {
        match &self.socket {
            Some(s) => format!("unix://{}", s.display()),
            None => format!("{}:{}", self.host, self.port),
        }
    }
}

/// The inputs besides the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--mysqld.address` (`host:port`).
    pub address: String,
    /// `--mysqld.username`.
    pub username: Option<String>,
    /// `MYSQLD_EXPORTER_PASSWORD`.
    pub password_env: Option<String>,
    /// `--tls.insecure-skip-verify`.
    pub tls_insecure_skip_verify: bool,
}

/// Every usable section of a `.my.cnf`, by name (`client`, `client.servers`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyCnf {
    /// The file the sections came from.
    pub path: PathBuf,
    /// Resolved sections; `client` is always present.
    pub sections: BTreeMap<String, ClientConfig>,
}

impl MyCnf {
    /// The `[client]` section, used by `/metrics`.
    pub fn client(&self) -> &ClientConfig {
        // `load_all` only returns a MyCnf that holds `client`.
        &self.sections["client"]
    }
}

/// Reads `path` (missing is fine) and resolves every section with `overrides` (see the module docs).
pub fn load_all(path: &Path, overrides: &Overrides) -> Result<MyCnf, ConfigError> {
    let sections = read_sections(path)?;
    let empty = BTreeMap::new();
    let client_keys = sections.get("client").unwrap_or(&empty);
    let client = resolve(Some(client_keys), path, overrides)?;
    // What children inherit from [client]: its keys with the gaps the flags filled.
    let mut inherited = client_keys.clone();
    for (key, value) in [
        ("host", client.host.clone()),
        ("port", client.port.to_string()),
        ("user", client.user.clone()),
    ] {
        let slot = inherited.entry(key.to_string()).or_default();
        if slot.is_empty() {
            *slot = value;
        }
    }
    let mut out = BTreeMap::new();
    out.insert("client".to_string(), client);
    for name in sections.keys().filter(|n| *n != "client" && *n != "DEFAULT") {
        let mut merged = BTreeMap::new();
        let mut prefix = String::new();
        for part in name.split('.') {
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(part);
            let keys = if prefix == "client" {
                Some(&inherited)
            } else {
                sections.get(&prefix)
            };
            if let Some(keys) = keys {
                merged.extend(keys.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        match resolve(Some(&merged), path, overrides) {
            Ok(c) => {
                out.insert(name.clone(), c);
            }
            Err(err) => {
                tracing::error!(section = name.as_str(), file = %path.display(), err = %err, "failed to load config section");
            }
        }
    }
    Ok(MyCnf {
        path: path.to_path_buf(),
        sections: out,
    })
}

/// Reads `path` (missing is fine) and resolves the `[client]` section with `overrides`.
pub fn load(path: &Path, overrides: &Overrides) -> Result<ClientConfig, ConfigError> {
    let sections = read_sections(path)?;
    resolve(sections.get("client"), path, overrides)
}

/// Reads and parses `path` (missing is empty), with environment variables expanded.
fn read_sections(path: &Path) -> Result<Sections, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut sections = parse_ini(&text, path)?;
    for values in sections.values_mut() {
        for value in values.values_mut() {
            *value = expand_env(value, |name| std::env::var(name).ok());
        }
    }
    Ok(sections)
}

/// Replaces `${NAME}` and `$NAME` (NAME of ASCII letters, digits and `_`) with `lookup(NAME)`, empty when unset,
/// as upstream expands the file's values with the environment. Any other `$` is kept.
pub fn expand_env(value: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(braced) = after.strip_prefix('{')
            && let Some(end) = braced.find('}')
            && !braced[..end].is_empty()
            && braced[..end].chars().all(is_name)
        {
            out.push_str(&lookup(&braced[..end]).unwrap_or_default());
            rest = &braced[end + 1..];
            continue;
        }
        let len = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
        if len > 0 {
            out.push_str(&lookup(&after[..len]).unwrap_or_default());
            rest = &after[len..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Resolves a `[client]` section (or none) with `overrides`.
pub fn resolve(
    client: Option<&BTreeMap<String, String>>,
    path: &Path,
    overrides: &Overrides,
) -> Result<ClientConfig, ConfigError> {
    let empty = BTreeMap::new();
    let client = client.unwrap_or(&empty);
    let get = |k: &str| client.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let (flag_host, flag_port) = split_host_port(&overrides.address)?;
    let host = get("host").unwrap_or(flag_host).to_string();
    let port_text = get("port").unwrap_or(flag_port);
    let port = port_text.parse::<u16>().map_err(|_| ConfigError::Value {
        path: path.to_path_buf(),
        key: "port".to_string(),
        value: port_text.to_string(),
    })?;
    let user = get("user")
        .map(str::to_string)
        .or_else(|| overrides.username.clone().filter(|u| !u.is_empty()))
        .ok_or_else(|| ConfigError::NoUser {
            path: path.to_path_buf(),
        })?;
    let password = get("password")
        .map(str::to_string)
        .or_else(|| overrides.password_env.clone())
        .unwrap_or_default();
    let skip = match get("ssl-skip-verfication") {
        None => false,
        Some(v) => parse_bool(v).ok_or_else(|| ConfigError::Value {
            path: path.to_path_buf(),
            key: "ssl-skip-verfication".to_string(),
            value: v.to_string(),
        })?,
    };
    Ok(ClientConfig {
        user,
        password,
        host: if host.is_empty() { "127.0.0.1".to_string() } else { host },
        port,
        socket: get("socket").map(PathBuf::from),
        ssl_ca: get("ssl-ca").map(PathBuf::from),
        ssl_cert: get("ssl-cert").map(PathBuf::from),
        ssl_key: get("ssl-key").map(PathBuf::from),
        tls_skip_verify: skip || overrides.tls_insecure_skip_verify,
        tls: get("tls").map(str::to_string),
    })
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Some(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

/// Splits `host:port` (IPv6 hosts in brackets), as Go's `net.SplitHostPort`.
pub fn split_host_port(address: &str) -> Result<(&str, &str), ConfigError> {
    let err = |m: &str| ConfigError::Address {
        address: address.to_string(),
        message: m.to_string(),
    };
    if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| err("missing ']' in address"))?;
        let port = after.strip_prefix(':').ok_or_else(|| err("missing port in address"))?;
        return Ok((host, port));
    }
    let (host, port) = address.rsplit_once(':').ok_or_else(|| err("missing port in address"))?;
    if host.contains(':') {
        return Err(err("too many colons in address"));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ov(address: &str, user: Option<&str>, env: Option<&str>) -> Overrides {
        Overrides {
            address: address.to_string(),
            username: user.map(str::to_string),
            password_env: env.map(str::to_string),
            tls_insecure_skip_verify: false,
        }
    }

    #[test]
    fn file_values_win_over_flags() {
        let text = "# comment\n[client]\nuser = root\npassword = \"abc\"\nhost=db.example\nport=3307\nskip-ssl\n\
                    [mysqld]\nport = 1\n";
        let sections = parse_ini(text, Path::new("my.cnf")).expect("parse");
        let cfg = resolve(
            sections.get("client"),
            Path::new("my.cnf"),
            &ov("localhost:3306", Some("x"), Some("env")),
        )
        .expect("resolve");
        assert_eq!((cfg.user.as_str(), cfg.password.as_str()), ("root", "abc"));
        assert_eq!((cfg.host.as_str(), cfg.port), ("db.example", 3307));
        assert!(!cfg.uses_tls());
        assert_eq!(sections["client"]["skip-ssl"], "true");
    }

    /// File text, --mysqld.address, --mysqld.username, password variable -> host, port, user, password.
    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<Resolved>,
    );
    type Resolved = (&'static str, u16, &'static str, &'static str);

    #[test]
    fn flags_and_env_fill_gaps() {
        let cases: &[Case] = &[
            (
                "",
                "localhost:3306",
                Some("exp"),
                Some("pw"),
                Some(("localhost", 3306, "exp", "pw")),
            ),
            (
                "[client]\nuser=u\n",
                "[::1]:3310",
                None,
                None,
                Some(("::1", 3310, "u", "")),
            ),
            ("[client]\n", "localhost:3306", None, Some("pw"), None),
            ("", "localhost", Some("u"), None, None),
            ("[client]\nuser=u\nport=x\n", "h:1", None, None, None),
        ];
        for (text, address, user, env, want) in cases {
            let sections = parse_ini(text, Path::new("f")).expect("parse");
            let got = resolve(sections.get("client"), Path::new("f"), &ov(address, *user, *env));
            match (got, want) {
                (Ok(c), Some((h, p, u, pw))) => {
                    assert_eq!(
                        (c.host.as_str(), c.port, c.user.as_str(), c.password.as_str()),
                        (*h, *p, *u, *pw)
                    )
                }
                (Err(_), None) => {}
                (got, want) => panic!("{text:?} {address}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn environment_expansion() {
        let env = |n: &str| (n == "PW").then(|| "s3cret".to_string());
        for (input, want) in [
            ("${PW}", "s3cret"),
            ("$PW", "s3cret"),
            ("a${PW}b", "as3cretb"),
            ("$PW-x", "s3cret-x"),
            ("${UNSET}", ""),
            ("p$", "p$"),
            ("p$-x", "p$-x"),
            ("${not closed", "${not closed"),
            ("plain", "plain"),
        ] {
            assert_eq!(expand_env(input, env), want, "{input:?}");
        }
    }

    #[test]
    fn tls_keys() {
        let text = "[client]\nuser=u\nssl-ca=/ca.pem\nssl-cert=/c.pem\nssl-key=/k.pem\nssl-skip-verfication=true\n\
                    socket=/run/mysqld.sock\n";
        let sections = parse_ini(text, Path::new("f")).expect("parse");
        let c = resolve(
            sections.get("client"),
            Path::new("f"),
            &ov("localhost:3306", None, None),
        )
        .expect("ok");
        assert!(c.uses_tls() && c.tls_skip_verify);
        assert_eq!(c.ssl_ca.as_deref(), Some(Path::new("/ca.pem")));
        assert_eq!(c.target(), "unix:///run/mysqld.sock");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse_ini("[client\nuser=x", Path::new("/etc/my.cnf")).expect_err("bad");
        assert_eq!(
            err.to_string(),
            "failed to load /etc/my.cnf: line 1: unclosed section header \"[client\""
        );
        let missing = load(
            Path::new("/nonexistent/.my.cnf"),
            &ov("localhost:3306", Some("u"), None),
        )
        .expect("loose");
        assert_eq!(missing.user, "u");
    }

    #[test]
    fn sections_inherit_from_their_parent() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("my.cnf");
        std::fs::write(
            &path,
            "[client]\nuser = base\npassword = basepw\n[client.servers]\nuser = other\n\
             [client.servers.eu]\nport = 3310\n[client.nouser]\npassword = x\n[client.badport]\nport = no\n",
        )
        .expect("write");
        let cnf = load_all(&path, &ov("db.example:3307", None, None)).expect("load");
        let names: Vec<&str> = cnf.sections.keys().map(String::as_str).collect();
        // [client.nouser] inherits the user; only the bad port is left out.
        assert_eq!(
            names,
            ["client", "client.nouser", "client.servers", "client.servers.eu"]
        );
        let got = |name: &str| {
            let c = &cnf.sections[name];
            (c.user.clone(), c.password.clone(), c.host.clone(), c.port)
        };
        let want = |u: &str, p: &str, h: &str, port: u16| (u.to_string(), p.to_string(), h.to_string(), port);
        assert_eq!(got("client"), want("base", "basepw", "db.example", 3307));
        // Children take the host and port the flag filled into [client].
        assert_eq!(got("client.servers"), want("other", "basepw", "db.example", 3307));
        assert_eq!(got("client.servers.eu"), want("other", "basepw", "db.example", 3310));
        assert_eq!(got("client.nouser"), want("base", "x", "db.example", 3307));
        assert_eq!(cnf.client().user, "base");
        let probe = cnf.sections["client.servers"]
            .with_target("10.0.0.5:3306")
            .expect("target");
        assert_eq!(
            (probe.host.as_str(), probe.port, probe.socket.as_deref()),
            ("10.0.0.5", 3306, None)
        );
        assert!(cnf.client().with_target("no-port").is_err());
        assert!(cnf.client().with_target("h:99999").is_err());
        // [client] itself must resolve.
        std::fs::write(&path, "[client]\nport = 1\n").expect("write");
        assert!(matches!(
            load_all(&path, &ov("h:1", None, None)),
            Err(ConfigError::NoUser { .. })
        ));
    }
}
