//! The rustls client configuration built from `tls_config`: trust roots (configured CA or the system's),
//! client certificate, `server_name`, `insecure_skip_verify` and version bounds, on the `ring` provider.
//!
//! As upstream, a `ca_file` and a `cert_file`/`key_file` pair are re-read when their content changes (checked at
//! each TLS handshake), so rotated certificates apply to new connections without a reload.
//! A changed file that does not parse is logged and the previous material kept.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::http::{TlsConfig, TlsVersion};

use super::HttpClientError;

/// Reads PEM text given inline or by file.
fn pem_source(inline: &str, file: &str, what: &'static str) -> Result<Option<(Vec<u8>, String)>, HttpClientError> {
    if !file.is_empty() {
        let bytes = std::fs::read(file).map_err(|source| HttpClientError::ReadFile {
            what,
            path: PathBuf::from(file),
            source,
        })?;
        Ok(Some((bytes, file.to_owned())))
    } else if !inline.is_empty() {
        Ok(Some((inline.as_bytes().to_vec(), "inline".to_owned())))
    } else {
        Ok(None)
    }
}

fn parse_certs(pem: &[u8], origin: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, HttpClientError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
    let certs = certs.map_err(|e| HttpClientError::Pem {
        what,
        origin: origin.to_owned(),
        reason: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(HttpClientError::Pem {
            what,
            origin: origin.to_owned(),
            reason: "no PEM certificate found".into(),
        });
    }
    Ok(certs)
}

fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls configuration from `tls_config` (or the defaults: system roots, TLS 1.2+).
pub(super) fn build_tls(
    tls: Option<&TlsConfig>,
    http2: bool,
    name: &str,
) -> Result<rustls::ClientConfig, HttpClientError> {
    let default = TlsConfig::default();
    let tls = tls.unwrap_or(&default);
    let tls_error = |source| HttpClientError::Tls {
        name: name.to_owned(),
        source,
    };
    for (set, setting) in [
        (!tls.ca_ref.is_empty(), "tls_config.ca_ref"),
        (!tls.cert_ref.is_empty(), "tls_config.cert_ref"),
        (!tls.key_ref.is_empty(), "tls_config.key_ref"),
    ] {
        if set {
            return Err(HttpClientError::Unsupported {
                name: name.to_owned(),
                setting,
            });
        }
    }
    let provider = crypto_provider();
    let min = tls.min_version.unwrap_or(TlsVersion::Tls12);
    let max = tls.max_version.unwrap_or(TlsVersion::Tls13);
    let mut versions = Vec::new();
    if min <= TlsVersion::Tls12 && max >= TlsVersion::Tls12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if versions.is_empty() {
        return Err(tls_error(rustls::Error::General(
            "max_version below TLS12: only TLS 1.2 and 1.3 are supported".into(),
        )));
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(tls_error)?;

    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(NoVerification(provider.clone()))
    } else if !tls.ca_file.is_empty() {
        Arc::new(ReloadingCa::new(&tls.ca_file, provider.clone())?)
    } else if !tls.ca.is_empty() {
        ca_verifier(tls.ca.as_bytes(), "inline", &provider)?
    } else {
        Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|source| {
                HttpClientError::SystemRoots {
                    name: name.to_owned(),
                    source,
                }
            })?,
        )
    };
    let verifier: Arc<dyn ServerCertVerifier> = if !tls.server_name.is_empty() && !tls.insecure_skip_verify {
        let server_name = ServerName::try_from(tls.server_name.clone()).map_err(|e| HttpClientError::Tls {
            name: name.to_owned(),
            source: rustls::Error::General(format!("invalid server_name {:?}: {e}", tls.server_name)),
        })?;
        Arc::new(ServerNameOverride {
            inner: verifier,
            server_name,
        })
    } else {
        verifier
    };
    let builder = builder.dangerous().with_custom_certificate_verifier(verifier);

    let has_cert = !tls.cert.is_empty() || !tls.cert_file.is_empty();
    let has_key = !tls.key.is_empty() || !tls.key_file.is_empty();
    let mut config = if has_cert && has_key {
        let mut resolver = ClientCertFiles {
            cert: (tls.cert.clone(), tls.cert_file.clone()),
            key: (tls.key.expose().to_owned(), tls.key_file.clone()),
            provider: provider.clone(),
            state: Mutex::new((None, None, None)),
        };
        // Fail now on an unusable pair rather than at the first handshake.
        let loaded = resolver.load()?;
        resolver.state = Mutex::new((stamp(&tls.cert_file), stamp(&tls.key_file), Some(loaded)));
        builder.with_client_cert_resolver(Arc::new(resolver))
    } else {
        builder.with_no_client_auth()
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// A hash of a file's content; `None` when it cannot be read. Certificate files are small and read once per
/// TLS handshake (connections are pooled), so comparing content is cheap and immune to coarse timestamps.
type Stamp = Option<u64>;

fn stamp(path: &str) -> Stamp {
    if path.is_empty() {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&bytes, &mut h);
    Some(std::hash::Hasher::finish(&h))
}

/// A verifier trusting the certificates in `pem`.
fn ca_verifier(
    pem: &[u8],
    origin: &str,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, HttpClientError> {
    let bad = |e: String| HttpClientError::Pem {
        what: "CA certificate",
        origin: origin.to_owned(),
        reason: e,
    };
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(pem, origin, "CA certificate")? {
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| bad(e.to_string()))?;
    Ok(verifier)
}

/// `ca_file`, re-read when it changes.
#[derive(Debug)]
struct ReloadingCa {
    file: String,
    provider: Arc<CryptoProvider>,
    state: Mutex<(Stamp, Arc<dyn ServerCertVerifier>)>,
}

impl ReloadingCa {
    fn new(file: &str, provider: Arc<CryptoProvider>) -> Result<ReloadingCa, HttpClientError> {
        let verifier = Self::load(file, &provider)?;
        Ok(ReloadingCa {
            file: file.to_owned(),
            provider,
            state: Mutex::new((stamp(file), verifier)),
        })
    }

    fn load(file: &str, provider: &Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>, HttpClientError> {
        let (pem, origin) = pem_source("", file, "CA")?.unwrap_or_default();
        ca_verifier(&pem, &origin, provider)
    }

    /// The verifier for the file as it is now.
    fn current(&self) -> Arc<dyn ServerCertVerifier> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = stamp(&self.file);
        if now != state.0 {
            match Self::load(&self.file, &self.provider) {
                Ok(v) => *state = (now, v),
                Err(e) => tracing::error!("keeping the previous CA certificates: {e}"),
            }
        }
        state.1.clone()
    }
}

impl ServerCertVerifier for ReloadingCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.current()
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The client certificate and key (each inline or a file), files re-read when they change.
#[derive(Debug)]
struct ClientCertFiles {
    /// (inline PEM, file)
    cert: (String, String),
    /// (inline PEM, file)
    key: (String, String),
    provider: Arc<CryptoProvider>,
    state: Mutex<(Stamp, Stamp, Option<Arc<CertifiedKey>>)>,
}

impl ClientCertFiles {
    fn load(&self) -> Result<Arc<CertifiedKey>, HttpClientError> {
        let (cert_pem, cert_origin) = pem_source(&self.cert.0, &self.cert.1, "client certificate")?.unwrap_or_default();
        let (key_pem, key_origin) = pem_source(&self.key.0, &self.key.1, "client key")?.unwrap_or_default();
        let certs = parse_certs(&cert_pem, &cert_origin, "client certificate")?;
        let bad_key = |reason: String| HttpClientError::Pem {
            what: "client key",
            origin: key_origin.clone(),
            reason,
        };
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| bad_key(e.to_string()))?;
        let key = self
            .provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| bad_key(e.to_string()))?;
        let certified = CertifiedKey::new(certs, key);
        certified.keys_match().map_err(|e| bad_key(e.to_string()))?;
        Ok(Arc::new(certified))
    }
}

impl ResolvesClientCert for ClientCertFiles {
    fn resolve(&self, _root_hint_subjects: &[&[u8]], _sigschemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = (stamp(&self.cert.1), stamp(&self.key.1));
        if (now.0, now.1) != (state.0, state.1) || state.2.is_none() {
            match self.load() {
                Ok(k) => *state = (now.0, now.1, Some(k)),
                Err(e) => tracing::error!("keeping the previous client certificate: {e}"),
            }
        }
        state.2.clone()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Verifies the server certificate against a configured name instead of the URL's host (`server_name`).
#[derive(Debug)]
struct ServerNameOverride {
    inner: Arc<dyn ServerCertVerifier>,
    server_name: ServerName<'static>,
}

impl ServerCertVerifier for ServerNameOverride {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: accepts any certificate, but still checks the handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
