//! The cluster's credentials: one CA, and a certificate per identity (the server, each node),
//! as PEM files in one directory:
//!
//! | file | who needs it |
//! |---|---|
//! | `ca.crt` | everyone: the only issuer a link accepts |
//! | `ca.key` | only where certificates are issued (the server's host); never copy it to a node |
//! | `server.crt`, `server.key` | the server |
//! | `node-<id>.crt`, `node-<id>.key` | node `<id>` |
//!
//! The embedded default makes all of them under the data dir at first start; in production
//! `whenly cluster init` and `whenly cluster issue <node-id>` make them, and the operator
//! copies `ca.crt` and the node's two files to the node's host. Keys are written `0600`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::protocol::link::{ClusterTls, Peer};

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Pem(PathBuf, rustls::pki_types::pem::Error),
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot build the TLS configuration: {0}")]
    Tls(String),
    #[error("{0} is missing: create the cluster's credentials first (`whenly cluster init`)")]
    Missing(PathBuf),
}

/// A directory of cluster credentials (see the module doc for its files).
#[derive(Debug, Clone)]
pub struct CredentialDir {
    path: PathBuf,
}

/// The CA's subject; issuing rebuilds it from here, so it must never change.
const CA_NAME: &str = "Whenly cluster CA";

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params
}

impl CredentialDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn cert_file(&self, identity: &Peer) -> PathBuf {
        self.file(&format!("{}.crt", identity.label()))
    }

    fn key_file(&self, identity: &Peer) -> PathBuf {
        self.file(&format!("{}.key", identity.label()))
    }

    /// Creates the cluster CA unless one exists. Returns whether it made one.
    pub fn init(&self) -> Result<bool, CredentialError> {
        let (cert_path, key_path) = (self.file("ca.crt"), self.file("ca.key"));
        if cert_path.exists() {
            return Ok(false);
        }
        std::fs::create_dir_all(&self.path).map_err(|e| CredentialError::Io(self.path.clone(), e))?;
        let key = KeyPair::generate()?;
        let cert = ca_params().self_signed(&key)?;
        write_file(&key_path, key.serialize_pem().as_bytes(), true)?;
        write_file(&cert_path, cert.pem().as_bytes(), false)?;
        Ok(true)
    }

    /// Issues (or re-issues) `identity`'s certificate and key, signed by the CA's key.
    pub fn issue(&self, identity: &Peer) -> Result<(), CredentialError> {
        let ca_key_path = self.file("ca.key");
        let ca_key_pem = read_text(&ca_key_path)?;
        let ca_key = KeyPair::from_pem(&ca_key_pem)?;
        let issuer = Issuer::new(ca_params(), ca_key);

        let mut params = CertificateParams::new(vec![identity.dns_name()])?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, identity.label());
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        write_file(&self.key_file(identity), key.serialize_pem().as_bytes(), true)?;
        write_file(&self.cert_file(identity), cert.pem().as_bytes(), false)?;
        Ok(())
    }

    /// Issues `identity`'s certificate unless it has one.
    pub fn ensure(&self, identity: &Peer) -> Result<(), CredentialError> {
        if self.cert_file(identity).exists() && self.key_file(identity).exists() {
            return Ok(());
        }
        self.issue(identity)
    }

    /// Loads `identity`'s TLS configuration: its certificate and key, and the CA it requires
    /// of every peer.
    pub fn load(&self, identity: Peer) -> Result<Arc<ClusterTls>, CredentialError> {
        let ca_path = self.file("ca.crt");
        let ca = CertificateDer::from_pem_file(&ca_path).map_err(|e| pem_error(&ca_path, e))?;
        let cert_path = self.cert_file(&identity);
        let cert = CertificateDer::from_pem_file(&cert_path).map_err(|e| pem_error(&cert_path, e))?;
        let key_path = self.key_file(&identity);
        let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| pem_error(&key_path, e))?;

        let tls_error = |e: rustls::Error| CredentialError::Tls(e.to_string());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(ca).map_err(tls_error)?;
        let roots = Arc::new(roots);
        let client_verifier = WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
            .build()
            .map_err(|e| CredentialError::Tls(e.to_string()))?;
        let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(vec![cert.clone()], key.clone_key())
            .map_err(tls_error)?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_root_certificates(roots)
            .with_client_auth_cert(vec![cert], key)
            .map_err(tls_error)?;
        Ok(Arc::new(ClusterTls {
            identity,
            connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        }))
    }
}

fn pem_error(path: &Path, error: rustls::pki_types::pem::Error) -> CredentialError {
    match error {
        rustls::pki_types::pem::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => CredentialError::Missing(path.to_owned()),
        other => CredentialError::Pem(path.to_owned(), other),
    }
}

fn read_text(path: &Path) -> Result<String, CredentialError> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CredentialError::Missing(path.to_owned()),
        _ => CredentialError::Io(path.to_owned(), e),
    })
}

/// Writes `contents` to a temporary file beside `path` and renames it into place, so a crash
/// never leaves half a key; `secret` files are readable by their owner only.
fn write_file(path: &Path, contents: &[u8], secret: bool) -> Result<(), CredentialError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    // A name of its own per file (a leftover from a crash is replaced, never reused with its
    // old mode), and the mode set explicitly whatever the file was.
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mode = if secret { 0o600 } else { 0o644 };
    let io = |e| CredentialError::Io(path.to_owned(), e);
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&temporary).map_err(io)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(io)?;
    file.write_all(contents).and_then(|()| file.sync_all()).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}
