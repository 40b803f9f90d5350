//! TLS for the exporter runtime: a rustls server config (ring provider) built from the validated
//! `tls_server_config`.
//!
//! As with exporter-toolkit, certificate and key files are re-read when they change, so a rotated certificate
//! is served from the next handshake without a restart. Client certificate policies map Go's
//! `tls.ClientAuthType` onto rustls verifiers; `client_allowed_sans` is checked after chain verification.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, SupportedKxGroup, WebPkiSupportedAlgorithms, ring};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme, SupportedCipherSuite};

use super::config::{ClientAuth, PemSource, TlsSettings, TlsVersion};

/// Go's names of the TLS 1.2 suites rustls implements, with the suite.
fn tls12_suites() -> [(&'static str, SupportedCipherSuite); 8] {
    use ring::cipher_suite as cs;
    [
        (
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
    ]
}

/// TLS 1.3 suite names Go accepts in `cipher_suites` (and ignores: TLS 1.3 suites are not configurable).
const TLS13_NAMES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Suites Go knows that rustls does not implement (CBC modes, RSA key exchange, 3DES, RC4).
const GO_ONLY_SUITES: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

/// Looks up a `cipher_suites` entry: `Ok(Some)` for a TLS 1.2 suite, `Ok(None)` for a (fixed) TLS 1.3 suite.
pub(crate) fn cipher_suite(name: &str) -> Result<Option<SupportedCipherSuite>, String> {
    if let Some((_, suite)) = tls12_suites().into_iter().find(|(n, _)| *n == name) {
        return Ok(Some(suite));
    }
    if TLS13_NAMES.contains(&name) {
        return Ok(None);
    }
    if GO_ONLY_SUITES.contains(&name) {
        return Err(format!("cipher suite {name} is not supported by this implementation"));
    }
    Err(format!("unknown cipher: {name}"))
}

/// Looks up a `curve_preferences` entry.
pub(crate) fn kx_group(name: &str) -> Result<&'static dyn SupportedKxGroup, String> {
    match name {
        "X25519" => Ok(ring::kx_group::X25519),
        "CurveP256" => Ok(ring::kx_group::SECP256R1),
        "CurveP384" => Ok(ring::kx_group::SECP384R1),
        "CurveP521" => Err("curve CurveP521 is not supported by this implementation".to_string()),
        _ => Err(format!("unknown curve: {name}")),
    }
}

/// Parses a PEM certificate chain and private key into a signing identity, checking that they match.
pub(crate) fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<CertifiedKey>, String> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| format!("failed to load X509KeyPair: cannot parse certificate PEM: {e}"))?;
    if certs.is_empty() {
        return Err("failed to load X509KeyPair: no certificate found in PEM data".to_string());
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| format!("failed to load X509KeyPair: cannot parse key PEM: {e}"))?
        .ok_or_else(|| "failed to load X509KeyPair: no private key found in PEM data".to_string())?;
    let signing = ring::sign::any_supported_type(&key)
        .map_err(|e| format!("failed to load X509KeyPair: unsupported private key: {e}"))?;
    let ck = CertifiedKey::new(certs, signing);
    ck.keys_match()
        .map_err(|e| format!("failed to load X509KeyPair: private key does not match certificate: {e}"))?;
    Ok(Arc::new(ck))
}

/// Parses PEM CA certificates into a root store (at least one certificate is required).
pub(crate) fn root_store(pem: &[u8]) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &pem[..]) {
        let cert = cert.map_err(|e| format!("cannot parse CA certificate PEM: {e}"))?;
        store.add(cert).map_err(|e| format!("invalid CA certificate: {e}"))?;
    }
    if store.is_empty() {
        return Err("no CA certificate found in PEM data".to_string());
    }
    Ok(store)
}

fn read_source(src: &PemSource) -> Result<Vec<u8>, String> {
    match src {
        PemSource::Inline(text) => Ok(text.clone().into_bytes()),
        PemSource::File(path) => std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display())),
    }
}

/// Builds the rustls server config for validated settings.
pub(crate) fn server_config(tls: &TlsSettings, http2: bool) -> Result<Arc<rustls::ServerConfig>, String> {
    let mut provider = ring::default_provider();
    if !tls.cipher_suites.is_empty() {
        let mut suites: Vec<SupportedCipherSuite> = provider
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| s.tls13().is_some())
            .collect();
        for name in &tls.cipher_suites {
            if let Some(suite) = cipher_suite(name)?
                && !suites.iter().any(|s| s.suite() == suite.suite())
            {
                suites.push(suite);
            }
        }
        provider.cipher_suites = suites;
    }
    if !tls.curves.is_empty() {
        provider.kx_groups = tls.curves.iter().map(|c| kx_group(c)).collect::<Result<_, _>>()?;
    }
    let provider = Arc::new(provider);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls13, &rustls::version::TLS13),
        (TlsVersion::Tls12, &rustls::version::TLS12),
    ]
    .into_iter()
    .filter(|(v, _)| (tls.min_version..=tls.max_version).contains(v))
    .map(|(_, p)| p)
    .collect();
    let verifier = client_verifier(tls, &provider)?;
    let resolver = Arc::new(ReloadingCert::new(tls.cert.clone(), tls.key.clone())?);
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("invalid TLS settings: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(resolver);
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

fn client_verifier(tls: &TlsSettings, provider: &Arc<CryptoProvider>) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let roots = match &tls.client_ca {
        Some(src) => Some(Arc::new(root_store(&read_source(src)?)?)),
        None => None,
    };
    let algorithms = provider.signature_verification_algorithms;
    let inner: Arc<dyn ClientCertVerifier> = match (tls.client_auth, roots) {
        (ClientAuth::NoClientCert, _) => WebPkiClientVerifier::no_client_auth(),
        (ClientAuth::RequestClientCert, _) => Arc::new(AnyClientCert {
            mandatory: false,
            algorithms,
        }),
        (ClientAuth::RequireAnyClientCert, _) => Arc::new(AnyClientCert {
            mandatory: true,
            algorithms,
        }),
        (ClientAuth::VerifyClientCertIfGiven, Some(roots)) => {
            WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("cannot build client certificate verifier: {e}"))?
        }
        (ClientAuth::RequireAndVerifyClientCert, Some(roots)) => {
            WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| format!("cannot build client certificate verifier: {e}"))?
        }
        (auth, None) => return Err(format!("client_auth_type {auth:?} needs a client CA")),
    };
    Ok(match &tls.client_allowed_sans {
        Some(sans) => Arc::new(SanCheck {
            inner,
            allowed: sans.clone(),
        }),
        None => inner,
    })
}

/// Serves the configured certificate, re-reading files whose modification time changed.
struct ReloadingCert {
    cert: PemSource,
    key: PemSource,
    state: Mutex<(Option<Stamp>, Arc<CertifiedKey>)>,
}

/// Modification times of the certificate and key files.
type Stamp = (SystemTime, SystemTime);

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

fn mtime(src: &PemSource) -> Option<SystemTime> {
    match src {
        PemSource::File(path) => std::fs::metadata(path).and_then(|m| m.modified()).ok(),
        PemSource::Inline(_) => Some(SystemTime::UNIX_EPOCH),
    }
}

impl ReloadingCert {
    fn new(cert: PemSource, key: PemSource) -> Result<ReloadingCert, String> {
        let stamp = mtime(&cert).zip(mtime(&key));
        let ck = certified_key(&read_source(&cert)?, &read_source(&key)?)?;
        Ok(ReloadingCert {
            cert,
            key,
            state: Mutex::new((stamp, ck)),
        })
    }

    fn current(&self) -> Arc<CertifiedKey> {
        let stamp = mtime(&self.cert).zip(mtime(&self.key));
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if stamp.is_some() && stamp != state.0 {
            match read_source(&self.cert).and_then(|c| certified_key(&c, &read_source(&self.key)?)) {
                Ok(ck) => {
                    tracing::info!(cert = ?path_of(&self.cert), "reloaded TLS certificate");
                    *state = (stamp, ck);
                }
                Err(err) => {
                    tracing::error!(err = %err, "cannot reload TLS certificate; serving the previous one");
                    // Do not retry on every handshake until the files change again.
                    state.0 = stamp;
                }
            }
        }
        state.1.clone()
    }
}

fn path_of(src: &PemSource) -> Option<PathBuf> {
    match src {
        PemSource::File(p) => Some(p.clone()),
        PemSource::Inline(_) => None,
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Go's `RequestClientCert`/`RequireAnyClientCert`: any certificate is accepted without chain verification, but
/// the handshake signature still proves possession of its key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `client_allowed_sans`: after the inner verifier accepts the chain, the end-entity certificate must carry one
/// of the allowed DNS names (exact match) or IP addresses as a subject alternative name.
#[derive(Debug)]
struct SanCheck {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl SanCheck {
    fn matches(&self, end_entity: &CertificateDer<'_>) -> Result<bool, rustls::Error> {
        let cert = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?;
        let dns: Vec<&str> = cert.valid_dns_names().collect();
        Ok(self.allowed.iter().any(|want| match want.parse::<IpAddr>() {
            Ok(ip) => cert
                .verify_is_valid_for_subject_name(&ServerName::IpAddress(ip.into()))
                .is_ok(),
            Err(_) => dns.iter().any(|d| d == want),
        }))
    }
}

impl ClientCertVerifier for SanCheck {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self.inner.verify_client_cert(end_entity, intermediates, now)?;
        if self.matches(end_entity)? {
            Ok(verified)
        } else {
            Err(rustls::Error::General(format!(
                "could not find allowed SANs in client cert, found: {:?}",
                self.allowed
            )))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_and_curve_names() {
        assert!(matches!(
            cipher_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            Ok(Some(_))
        ));
        assert!(matches!(cipher_suite("TLS_AES_128_GCM_SHA256"), Ok(None)));
        assert!(
            cipher_suite("TLS_RSA_WITH_AES_128_CBC_SHA")
                .unwrap_err()
                .contains("not supported")
        );
        assert_eq!(cipher_suite("nope").unwrap_err(), "unknown cipher: nope");
        for c in ["X25519", "CurveP256", "CurveP384"] {
            assert!(kx_group(c).is_ok(), "{c}");
        }
        assert!(kx_group("CurveP521").unwrap_err().contains("not supported"));
        assert_eq!(kx_group("P1").unwrap_err(), "unknown curve: P1");
    }

    #[test]
    fn bad_pem_is_reported() {
        assert!(certified_key(b"", b"").unwrap_err().contains("no certificate"));
        assert!(root_store(b"garbage").unwrap_err().contains("no CA certificate"));
    }
}
