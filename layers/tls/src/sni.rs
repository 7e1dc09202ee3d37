//! Which server names the accept side answers: with `reject_unknown_sni`, only the names the
//! certificate covers, so an address scan does not learn the domain from the certificate.

use rustls::{
    pki_types::{CertificateDer, DnsName, ServerName},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use std::sync::Arc;

/// Presents the one certificate, to every client or only to those asking for a name it covers.
#[derive(Debug)]
pub(crate) struct CoveredNames {
    key: Arc<CertifiedKey>,
    reject_unknown: bool,
}

impl CoveredNames {
    pub(crate) fn new(key: Arc<CertifiedKey>, reject_unknown: bool) -> Self {
        CoveredNames {
            key,
            reject_unknown,
        }
    }

    /// Whether the leaf certificate is valid for `name`.
    fn covers(&self, name: &str) -> bool {
        let Some(leaf) = self.key.cert.first() else {
            return false;
        };
        covers(leaf, name)
    }
}

/// Whether `leaf` is valid for the DNS name `name` (wildcards as webpki matches them).
fn covers(leaf: &CertificateDer<'_>, name: &str) -> bool {
    let Ok(name) = DnsName::try_from(name.to_owned()) else {
        return false;
    };
    let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else {
        return false;
    };
    cert.verify_is_valid_for_subject_name(&ServerName::DnsName(name))
        .is_ok()
}

impl ResolvesServerCert for CoveredNames {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if !self.reject_unknown {
            return Some(self.key.clone());
        }
        match hello.server_name() {
            Some(name) if self.covers(name) => Some(self.key.clone()),
            // No certificate: rustls ends the handshake with an alert.
            _ => None,
        }
    }
}
