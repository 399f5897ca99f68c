//! TLS with HTTP/1.1 and HTTP/2 chosen by ALPN.
//!
//! Over HTTP/2 a browser multiplexes every SSE stream and long poll of a
//! page on one connection, which lifts HTTP/1's six-connections-per-host
//! limit that otherwise caps a spectator page at a handful of feeds.
//! Extended CONNECT (RFC 8441) is enabled, so clients that support it can
//! open the player WebSocket over HTTP/2 as well; HTTP/1.1 upgrade always
//! works.
//!
//! Connections are accepted and served by [`crate::listener`]; this module
//! only builds the acceptor.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// Loads a PEM certificate chain and private key into a TLS acceptor that
/// offers `h2` and `http/1.1`.
///
/// # Errors
/// Unreadable or invalid files, with the path in the message.
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("--tls-cert {}: cannot read", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("--tls-cert {}: not a PEM certificate chain", cert.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "--tls-cert {}: no certificate in the file",
        cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "--tls-key {}: not a readable PEM private key",
            key.display()
        )
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("--tls-cert and --tls-key do not form a usable certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
