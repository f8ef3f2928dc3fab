//! HTTPS: a certificate chain and private key, loaded once, for rustls.
//!
//! The server speaks TLS 1.2 and 1.3 through rustls with the *ring*
//! crypto provider (no C toolchain beyond a C compiler, no cmake), offers
//! `h2` and `http/1.1` by ALPN, and asks for no client certificate. For
//! anything else (client authentication, other providers, session
//! tickets), build a `rustls::ServerConfig` yourself and hand it over with
//! [`TlsConfig::from_rustls_config`].

use std::error::Error as StdError;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate and key a server presents: give it to
/// [`ServerBuilder::tls`](crate::ServerBuilder::tls).
///
/// ```no_run
/// use rpckit_http::{Server, TlsConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = TlsConfig::from_pem_files("cert.pem", "key.pem")?;
/// let server = Server::builder().tls(tls).bind("127.0.0.1:8443").await?;
/// println!("listening on https://{}", server.local_addr());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<rustls::ServerConfig>,
}

impl TlsConfig {
    /// Reads a PEM certificate chain (the server's certificate first, then
    /// its intermediates) and a PEM private key (PKCS#8, PKCS#1 or SEC1)
    /// from files.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] whose [`kind`](TlsError::kind) says what is wrong:
    /// a file that cannot be read, no certificate or key in it, one that
    /// does not parse, or a key that does not match the certificate.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            fs::read(path).map_err(|err| TlsError::new(TlsErrorKind::Read, err).at(path))
        };
        let cert_path = cert_chain.as_ref();
        let key_path = private_key.as_ref();
        let certs = parse_certs(&read(cert_path)?).map_err(|err| err.at(cert_path))?;
        let key = parse_key(&read(key_path)?).map_err(|err| err.at(key_path))?;
        Self::from_parts(certs, key)
    }

    /// The same as [`from_pem_files`](Self::from_pem_files), from PEM text
    /// in memory.
    ///
    /// # Errors
    ///
    /// As for [`from_pem_files`](Self::from_pem_files), but never
    /// [`TlsErrorKind::Read`].
    pub fn from_pem(cert_chain: &[u8], private_key: &[u8]) -> Result<Self, TlsError> {
        Self::from_parts(parse_certs(cert_chain)?, parse_key(private_key)?)
    }

    /// An escape hatch: serves with a rustls configuration built by hand,
    /// as it is. Set its `alpn_protocols` to `h2` and `http/1.1` for HTTP/2
    /// (the server speaks both either way, but clients pick by ALPN).
    ///
    /// This ties your code to the rustls version rpckit-http uses (0.23).
    pub fn from_rustls_config(config: Arc<rustls::ServerConfig>) -> Self {
        TlsConfig { config }
    }

    fn from_parts(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        // An explicit provider: the process-wide default panics when more
        // than one provider is compiled in.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| TlsError::new(TlsErrorKind::Rejected, err))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|err| TlsError::new(TlsErrorKind::Rejected, err))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsConfig {
            config: Arc::new(config),
        })
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.config))
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("alpn_protocols", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::new(TlsErrorKind::InvalidCertificate, err))?;
    if certs.is_empty() {
        return Err(TlsError::bare(TlsErrorKind::NoCertificate));
    }
    Ok(certs)
}

fn parse_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|err| match err {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::bare(TlsErrorKind::NoPrivateKey),
        err => TlsError::new(TlsErrorKind::InvalidPrivateKey, err),
    })
}

/// Why a [`TlsConfig`] could not be built.
///
/// Its [`kind`](Self::kind) classifies it; its `source` is the underlying
/// I/O, PEM or rustls error, for the message.
#[derive(Debug)]
pub struct TlsError {
    kind: TlsErrorKind,
    path: Option<PathBuf>,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// What kind of [`TlsError`] it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// A file could not be read.
    Read,
    /// The certificate PEM holds no `CERTIFICATE` section.
    NoCertificate,
    /// A certificate section does not decode.
    InvalidCertificate,
    /// The key PEM holds no private key section.
    NoPrivateKey,
    /// The private key section does not decode.
    InvalidPrivateKey,
    /// rustls refused the pair: an unsupported key type, or a key that
    /// does not match the certificate.
    Rejected,
}

impl TlsError {
    fn new(kind: TlsErrorKind, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        TlsError {
            kind,
            path: None,
            source: Some(source.into()),
        }
    }

    fn bare(kind: TlsErrorKind) -> Self {
        TlsError {
            kind,
            path: None,
            source: None,
        }
    }

    fn at(mut self, path: &Path) -> Self {
        self.path = Some(path.to_owned());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> TlsErrorKind {
        self.kind
    }

    /// The file it went wrong in, when it came from one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TlsErrorKind::Read => "could not read",
            TlsErrorKind::NoCertificate => "no PEM certificate in",
            TlsErrorKind::InvalidCertificate => "invalid PEM certificate in",
            TlsErrorKind::NoPrivateKey => "no PEM private key in",
            TlsErrorKind::InvalidPrivateKey => "invalid PEM private key in",
            TlsErrorKind::Rejected => "certificate and key refused",
        };
        f.write_str(what)?;
        match (&self.path, self.kind) {
            (_, TlsErrorKind::Rejected) => {}
            (Some(path), _) => write!(f, " {}", path.display())?,
            (None, _) => f.write_str(" the given PEM")?,
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for TlsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}
