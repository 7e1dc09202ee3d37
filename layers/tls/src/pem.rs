//! Reading PEM certificate chains, private keys and CA bundles, with errors naming the file.

use crate::ConfigError;
use rustls::{
    RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer},
};
use std::{io::BufReader, path::Path};

fn open(path: &Path) -> Result<BufReader<std::fs::File>, ConfigError> {
    let file = std::fs::File::open(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(BufReader::new(file))
}

/// Reads every `CERTIFICATE` block of a PEM file, in order; at least one is required.
pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = rustls_pemfile::certs(&mut open(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(ConfigError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1/RSA or SEC1/EC) of a PEM file.
pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    rustls_pemfile::private_key(&mut open(path)?)
        .map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?
        .ok_or_else(|| ConfigError::NoPrivateKey {
            path: path.to_owned(),
        })
}

/// Builds a trust store from a PEM CA bundle, or from the webpki roots when `path` is `None`.
pub(crate) fn load_roots(path: Option<&Path>) -> Result<RootCertStore, ConfigError> {
    let Some(path) = path else {
        return Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|source| ConfigError::Ca {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn certs_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/certs")
    }

    #[test]
    fn loads_the_test_certificates() {
        assert_eq!(
            load_certs(&certs_dir().join("server.pem")).unwrap().len(),
            1
        );
        assert!(matches!(
            load_key(&certs_dir().join("server.key")).unwrap(),
            PrivateKeyDer::Pkcs8(_)
        ));
        assert_eq!(
            load_roots(Some(&certs_dir().join("ca.pem"))).unwrap().len(),
            1
        );
        assert!(load_roots(None).unwrap().len() > 100);
    }

    #[test]
    fn loads_sec1_and_pkcs1_keys() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        assert!(matches!(
            load_key(&data.join("ec-sec1.key")).unwrap(),
            PrivateKeyDer::Sec1(_)
        ));
        assert!(matches!(
            load_key(&data.join("rsa-pkcs1.key")).unwrap(),
            PrivateKeyDer::Pkcs1(_)
        ));
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let missing = certs_dir().join("missing.pem");
        let err = load_certs(&missing).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("No such file"), "{source}");

        let err = load_key(&certs_dir().join("server.pem")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "no private key found in {}",
                certs_dir().join("server.pem").display()
            )
        );
        let err = load_certs(&certs_dir().join("server.key")).unwrap_err();
        assert!(
            err.to_string().starts_with("no certificate found in"),
            "{err}"
        );
    }
}
