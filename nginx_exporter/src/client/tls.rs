//! TLS for `https://` scrape URIs: `--nginx.ssl-verify`, `--nginx.ssl-ca-cert`, `--nginx.ssl-client-cert` and
//! `--nginx.ssl-client-key`, with upstream 1.x semantics (no verification unless `--nginx.ssl-verify`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// CA bundles tried, in order, when verification is on and no CA file is given (`SSL_CERT_FILE` first).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The TLS flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Verify the server certificate (`--nginx.ssl-verify`).
    pub verify: bool,
    /// CA bundle for verification (`--nginx.ssl-ca-cert`).
    pub ca_cert: Option<PathBuf>,
    /// Client certificate chain (`--nginx.ssl-client-cert`).
    pub client_cert: Option<PathBuf>,
    /// Client private key (`--nginx.ssl-client-key`).
    pub client_key: Option<PathBuf>,
}

/// Why the TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system error.
        #[source]
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("parsing CA cert file {path} failed: {message}")]
    CaCert {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The client certificate or key is unusable.
    #[error("loading client certificate {cert} / {key} failed: {message}")]
    ClientCert {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Builds the client configuration shared by all `https://` targets.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::CaCert {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
    let builder = if opts.verify {
        let roots = match &opts.ca_cert {
            Some(path) => ca_roots(path)?,
            None => system_roots(),
        };
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider.signature_verification_algorithms)))
    };
    let config = match (&opts.client_cert, &opts.client_key) {
        (Some(cert), Some(key)) => {
            let (chain, private) = client_identity(cert, key)?;
            builder
                .with_client_auth_cert(chain, private)
                .map_err(|e| TlsError::ClientCert {
                    cert: cert.clone(),
                    key: key.clone(),
                    message: e.to_string(),
                })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn ca_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let pem = read(path)?;
    let mut store = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &pem[..]) {
        let cert = cert.map_err(|e| TlsError::CaCert {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        store.add(cert).map_err(|e| TlsError::CaCert {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    if store.is_empty() {
        return Err(TlsError::CaCert {
            path: path.to_path_buf(),
            message: "no certificate found".to_string(),
        });
    }
    Ok(store)
}

/// The system CA bundle (best effort: unparsable entries are skipped, as Go's `AppendCertsFromPEM` does).
fn system_roots() -> RootCertStore {
    let mut store = RootCertStore::empty();
    let env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    for path in env.into_iter().chain(SYSTEM_BUNDLES.iter().map(PathBuf::from)) {
        if let Ok(pem) = std::fs::read(&path) {
            let mut reader = &pem[..];
            let certs: Vec<_> = rustls_pemfile::certs(&mut reader).filter_map(Result::ok).collect();
            store.add_parsable_certificates(certs);
            if !store.is_empty() {
                break;
            }
        }
    }
    if store.is_empty() {
        tracing::warn!("no system CA certificates found; https scrapes with --nginx.ssl-verify will fail");
    }
    store
}

fn client_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let err = |message: String| TlsError::ClientCert {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        message,
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("cannot parse certificate PEM: {e}")))?;
    if chain.is_empty() {
        return Err(err("no certificate found".to_string()));
    }
    let private = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| err(format!("cannot parse key PEM: {e}")))?
        .ok_or_else(|| err("no private key found".to_string()))?;
    Ok((chain, private))
}

/// Accepts any server certificate (upstream's `InsecureSkipVerify`, the default without `--nginx.ssl-verify`)
/// while still checking handshake signatures.
#[derive(Debug)]
struct NoVerification(WebPkiSupportedAlgorithms);

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
        verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
