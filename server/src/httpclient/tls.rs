//! The rustls client configuration built from `tls_config`: trust roots (configured CA or the system's),
//! client certificate, `server_name`, `insecure_skip_verify` and version bounds, on the `ring` provider.

use std::path::PathBuf;
use std::sync::Arc;

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
    } else if let Some((pem, origin)) = pem_source(&tls.ca, &tls.ca_file, "CA")? {
        let mut roots = RootCertStore::empty();
        for cert in parse_certs(&pem, &origin, "CA certificate")? {
            roots.add(cert).map_err(|e| HttpClientError::Pem {
                what: "CA certificate",
                origin: origin.clone(),
                reason: e.to_string(),
            })?;
        }
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| HttpClientError::Pem {
                what: "CA certificate",
                origin: origin.clone(),
                reason: e.to_string(),
            })?
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

    let cert = pem_source(&tls.cert, &tls.cert_file, "client certificate")?;
    let key = pem_source(tls.key.expose(), &tls.key_file, "client key")?;
    let mut config = match (cert, key) {
        (Some((cert_pem, cert_origin)), Some((key_pem, key_origin))) => {
            let certs = parse_certs(&cert_pem, &cert_origin, "client certificate")?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| HttpClientError::Pem {
                what: "client key",
                origin: key_origin,
                reason: e.to_string(),
            })?;
            builder.with_client_auth_cert(certs, key).map_err(tls_error)?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
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
