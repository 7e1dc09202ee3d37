//! YAML options of the `tls` layers and the settings they validate into.

use crate::{
    ConfigError, PreconnectTiming, TicketStore, TlsConnectorLayer, TlsUpgrade,
    insecure::AcceptAnyCertificate,
    pem::{load_certs, load_key, load_roots},
    sni::CoveredNames,
};
use rustls::{
    CipherSuite, ClientConfig, ServerConfig, client::Resumption, crypto::CryptoProvider,
    pki_types::ServerName, sign::CertifiedKey,
};
use serde::Deserialize;
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Once},
    time::Duration,
};
use xypro_core::{BuildContext, InvalidOptions, LayerOptions, UpgradeLayer, error_chain};

/// The handshake deadline, on either side, when `handshake_timeout` is not set.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The rustls provider every configuration of this crate uses: aws-lc-rs, never the process
/// default, with AES-128-GCM preferred in each TLS version (as browsers and Go order them).
///
/// aws-lc-rs lists AES-256-GCM with SHA-384 first; AES-128-GCM encrypts about 30% faster and
/// its SHA-256 key schedule runs on the CPU's SHA extensions, which SHA-384 has none of.
///
/// The first call in a process also seeds aws-lc's random generator (60-100 ms of one core
/// sampling timing jitter), so that building a configuration, not the first handshake, pays.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    seed_random_once(&provider);
    provider.cipher_suites.sort_by_key(|suite| {
        let aes_128 = matches!(
            suite.suite(),
            CipherSuite::TLS13_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        );
        (suite.version() != &rustls::version::TLS13, !aes_128)
    });
    Arc::new(provider)
}

/// Draws from the provider's random generator once per process.
///
/// aws-lc seeds its generator on first use by measuring CPU timing jitter: 60-100 ms of one
/// core on a 2-core VM, which a client otherwise spends before its first ClientHello leaves.
fn seed_random_once(provider: &CryptoProvider) {
    static SEEDED: Once = Once::new();
    SEEDED.call_once(|| {
        // A failure here would fail the first handshake the same way; nothing to do now.
        let _ = provider.secure_random.fill(&mut [0; 16]);
    });
}

/// Options of the outbound `tls` layer: `{ server_name, ca, alpn, insecure, handshake_timeout,
/// preconnect }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientOptions {
    /// The name (DNS name or IP address) sent as SNI and verified in the certificate.
    pub server_name: String,
    /// A PEM file of trusted CA certificates; the webpki roots when unset.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// ALPN protocols to offer, in order of preference (default `[http/1.1]`; add `h2` only
    /// for the HTTP/2 transports: a WebSocket or HTTPUpgrade over an h2 connection fails).
    #[serde(default = "default_alpn")]
    pub alpn: Vec<String>,
    /// Accept any certificate (default false; `ca` is then unused); warns when validated.
    #[serde(default)]
    pub insecure: bool,
    /// Deadline for the server to finish the handshake (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub handshake_timeout: Option<Duration>,
    /// How many connected, idle sessions to keep ready while the client is in use (default 0,
    /// at most [`MAX_PRECONNECT`]); see [`PreconnectTiming`].
    #[serde(default)]
    pub preconnect: usize,
}

/// The most sessions `preconnect` may keep ready.
pub const MAX_PRECONNECT: usize = 16;

/// Options of the inbound `tls` layer: `{ cert, key, alpn, handshake_timeout,
/// reject_unknown_sni }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerOptions {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// ALPN protocols to accept, in order of preference (default `[http/1.1]`; add `h2` only
    /// for the HTTP/2 transports or an h2 fallback).
    #[serde(default = "default_alpn")]
    pub alpn: Vec<String>,
    /// Deadline for a client to finish the handshake (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub handshake_timeout: Option<Duration>,
    /// End with a TLS alert every handshake whose SNI the certificate does not cover, or that
    /// has none (default false), so an address scan does not learn the domain.
    #[serde(default)]
    pub reject_unknown_sni: bool,
}

fn default_alpn() -> Vec<String> {
    vec!["http/1.1".to_owned()]
}

/// Validated client settings: the name to verify, one shared rustls configuration, the
/// handshake deadline and how many sessions to keep ready.
#[derive(Debug, Clone)]
pub struct TlsClientSettings {
    /// The server name sent as SNI and verified.
    pub server_name: ServerName<'static>,
    /// The rustls configuration, shared (with its session cache) by every connection.
    pub config: Arc<ClientConfig>,
    /// Deadline for the server to finish the handshake.
    pub handshake_timeout: Duration,
    /// How many connected, idle sessions to keep ready while the client is in use (0: none).
    pub preconnect: usize,
    /// How long ready sessions and the pool are kept.
    pub preconnect_timing: PreconnectTiming,
}

impl TlsClientSettings {
    /// Settings for `server_name` with the given configuration, the default deadline and no
    /// preconnected sessions.
    pub fn new(server_name: ServerName<'static>, config: Arc<ClientConfig>) -> Self {
        TlsClientSettings {
            server_name,
            config,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            preconnect: 0,
            preconnect_timing: PreconnectTiming::default(),
        }
    }
}

/// Validated server settings: one shared rustls configuration and the handshake deadline.
#[derive(Debug, Clone)]
pub struct TlsServerSettings {
    /// The rustls configuration, shared (with its ticketer and session cache) by every connection.
    pub config: Arc<ServerConfig>,
    /// Deadline for a client to finish the handshake.
    pub handshake_timeout: Duration,
}

impl TlsServerSettings {
    /// Settings with the given configuration and the default 10s handshake deadline.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        TlsServerSettings {
            config,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

impl LayerOptions for ClientOptions {
    type Output = TlsConnectorLayer;

    fn validate(self, ctx: &BuildContext<'_>) -> Result<TlsConnectorLayer, InvalidOptions> {
        self.settings(ctx.base_dir()).map(TlsConnectorLayer::new)
    }
}

impl LayerOptions for ServerOptions {
    type Output = UpgradeLayer<TlsUpgrade>;

    fn validate(self, ctx: &BuildContext<'_>) -> Result<UpgradeLayer<TlsUpgrade>, InvalidOptions> {
        let settings = self.settings(ctx.base_dir())?;
        Ok(UpgradeLayer::new(TlsUpgrade::new(settings)))
    }
}

/// An error about the option `key`, with the file error's whole chain as its message.
fn at(key: &str) -> impl FnOnce(ConfigError) -> InvalidOptions + '_ {
    move |e| InvalidOptions::at(key, error_chain(&e))
}

/// rustls refused a configuration built from the aws-lc-rs provider (never for ours).
fn rustls_refused(e: rustls::Error) -> InvalidOptions {
    InvalidOptions::new(error_chain(&ConfigError::Rustls(e)))
}

/// The handshake deadline: the default when unset, never zero.
fn handshake_timeout(given: Option<Duration>) -> Result<Duration, InvalidOptions> {
    match given.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT) {
        Duration::ZERO => Err(InvalidOptions::at(
            "handshake_timeout",
            "must be greater than zero",
        )),
        limit => Ok(limit),
    }
}

impl ClientOptions {
    /// Options for `server_name` with every other option at its default.
    pub fn new(server_name: impl Into<String>) -> Self {
        ClientOptions {
            server_name: server_name.into(),
            ca: None,
            alpn: default_alpn(),
            insecure: false,
            handshake_timeout: None,
            preconnect: 0,
        }
    }

    /// Loads the CA file (relative paths are taken from `base_dir`) and builds the settings.
    pub fn settings(&self, base_dir: &Path) -> Result<TlsClientSettings, InvalidOptions> {
        let server_name = ServerName::try_from(self.server_name.clone()).map_err(|_| {
            let message = format!(
                "`{}` is neither a DNS name nor an IP address",
                self.server_name
            );
            InvalidOptions::at("server_name", message)
        })?;
        let handshake_timeout = handshake_timeout(self.handshake_timeout)?;
        if self.preconnect > MAX_PRECONNECT {
            let message = format!("must be at most {MAX_PRECONNECT}");
            return Err(InvalidOptions::at("preconnect", message));
        }
        let provider = crypto_provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(rustls_refused)?;
        let mut config = if self.insecure {
            tracing::warn!(
                server_name = %self.server_name,
                "tls: `insecure: true`, certificate verification is OFF; anyone on the path can \
                 impersonate the server"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate::new(provider)))
                .with_no_client_auth()
        } else {
            let ca = self.ca.as_ref().map(|ca| base_dir.join(ca));
            builder
                .with_root_certificates(load_roots(ca.as_deref()).map_err(at("ca"))?)
                .with_no_client_auth()
        };
        config.alpn_protocols = alpn_protocols(&self.alpn)?;
        config.resumption = Resumption::store(Arc::new(TicketStore::new()));
        Ok(TlsClientSettings {
            server_name,
            config: Arc::new(config),
            handshake_timeout,
            preconnect: self.preconnect,
            preconnect_timing: PreconnectTiming::default(),
        })
    }
}

impl ServerOptions {
    /// Options for a certificate chain and key with every other option at its default.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        ServerOptions {
            cert: cert.into(),
            key: key.into(),
            alpn: default_alpn(),
            handshake_timeout: None,
            reject_unknown_sni: false,
        }
    }

    /// Loads the certificate and key (relative paths are taken from `base_dir`) and builds
    /// the settings, with session tickets on for fast resumption.
    pub fn settings(&self, base_dir: &Path) -> Result<TlsServerSettings, InvalidOptions> {
        let handshake_timeout = handshake_timeout(self.handshake_timeout)?;
        let alpn = alpn_protocols(&self.alpn)?;
        let (cert, key) = (base_dir.join(&self.cert), base_dir.join(&self.key));
        let chain = load_certs(&cert).map_err(at("cert"))?;
        let private_key = load_key(&key).map_err(at("key"))?;
        warn_if_others_can_read(&key);
        let provider = crypto_provider();
        let certified = CertifiedKey::from_der(chain, private_key, &provider)
            .map_err(|source| at("key")(ConfigError::CertifiedKey { cert, key, source }))?;
        let resolver = CoveredNames::new(Arc::new(certified), self.reject_unknown_sni);
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(rustls_refused)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = alpn;
        config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(rustls_refused)?;
        Ok(TlsServerSettings {
            config: Arc::new(config),
            handshake_timeout,
        })
    }
}

/// Warns when a private key file is readable by its group or by others.
fn warn_if_others_can_read(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "tls: key file {} is readable by its group or others (mode {mode:o}); \
                     `chmod 600` it",
                    path.display()
                );
            }
        }
    }
}

/// Checks the ALPN list (non-empty entries of at most 255 bytes) and encodes it for rustls;
/// whether `h2` suits the layers above is for the pipeline builder to say.
fn alpn_protocols(alpn: &[String]) -> Result<Vec<Vec<u8>>, InvalidOptions> {
    alpn.iter()
        .enumerate()
        .map(|(index, value)| {
            let reason = match value.as_str() {
                "" => "must not be empty",
                v if v.len() > 255 => "must be at most 255 bytes",
                _ => return Ok(value.as_bytes().to_vec()),
            };
            Err(InvalidOptions::at(
                format!("alpn[{index}]"),
                format!("`{value}`: {reason}"),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
    }

    #[test]
    fn aes_128_gcm_comes_first_in_each_version() {
        let provider = crypto_provider();
        let first_of = |version| {
            provider
                .cipher_suites
                .iter()
                .find(|s| s.version() == version)
                .map(|s| s.suite())
        };
        assert_eq!(
            first_of(&rustls::version::TLS13),
            Some(CipherSuite::TLS13_AES_128_GCM_SHA256)
        );
        assert_eq!(
            first_of(&rustls::version::TLS12),
            Some(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
        );
        assert_eq!(
            provider.cipher_suites[1].suite(),
            CipherSuite::TLS13_AES_256_GCM_SHA384,
            "the other suites keep their order"
        );
    }

    #[test]
    fn defaults_offer_http11_only() {
        let client: ClientOptions = serde_yaml::from_str("{ server_name: example.test }").unwrap();
        assert_eq!(client, ClientOptions::new("example.test"));
        let settings = client.settings(&base()).unwrap();
        assert_eq!(settings.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let server: ServerOptions =
            serde_yaml::from_str("{ cert: certs/server.pem, key: certs/server.key }").unwrap();
        let settings = server.settings(&base()).unwrap();
        assert_eq!(settings.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert_eq!(settings.handshake_timeout, Duration::from_secs(10));
        assert!(settings.config.ticketer.enabled());
    }

    #[test]
    fn preconnect_is_off_by_default_and_capped() {
        let settings = ClientOptions::new("example.test")
            .settings(&base())
            .unwrap();
        assert_eq!(settings.preconnect, 0);
        let client: ClientOptions =
            serde_yaml::from_str("{ server_name: example.test, preconnect: 2 }").unwrap();
        assert_eq!(client.settings(&base()).unwrap().preconnect, 2);
        let mut client = ClientOptions::new("example.test");
        client.preconnect = MAX_PRECONNECT + 1;
        let err = client.settings(&base()).unwrap_err();
        assert_eq!(err.to_string(), "preconnect: must be at most 16");
    }

    #[test]
    fn parses_durations_and_rejects_unknown_keys() {
        let server: ServerOptions =
            serde_yaml::from_str("{ cert: a, key: b, handshake_timeout: 1s 500ms }").unwrap();
        assert_eq!(server.handshake_timeout, Some(Duration::from_millis(1500)));
        assert!(serde_yaml::from_str::<ClientOptions>("{ server_name: a, sni: b }").is_err());
        assert!(serde_yaml::from_str::<ServerOptions>("{ cert: a, key: b, ca: c }").is_err());
    }

    #[test]
    fn refuses_bad_names_alpn_and_timeouts() {
        let err = ClientOptions::new("not a name!")
            .settings(&base())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "server_name: `not a name!` is neither a DNS name nor an IP address"
        );
        assert!(ClientOptions::new("127.0.0.1").settings(&base()).is_ok());
        let mut client = ClientOptions::new("example.test");
        client.alpn = vec!["h2".into(), "http/1.1".into()];
        let settings = client.settings(&base()).unwrap();
        assert_eq!(
            settings.config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            "h2 is offered when asked for, in the order given"
        );
        let mut server = ServerOptions::new("certs/server.pem", "certs/server.key");
        server.alpn = vec![String::new()];
        assert!(
            server
                .settings(&base())
                .unwrap_err()
                .to_string()
                .starts_with("alpn[0]")
        );
        server.alpn = default_alpn();
        server.handshake_timeout = Some(Duration::ZERO);
        let err = server.settings(&base()).unwrap_err();
        assert_eq!(err.key(), Some("handshake_timeout"));
        let mut client = ClientOptions::new("example.test");
        client.handshake_timeout = Some(Duration::ZERO);
        assert_eq!(
            client.settings(&base()).unwrap_err().key(),
            Some("handshake_timeout")
        );
    }

    #[test]
    fn errors_name_the_missing_or_wrong_file() {
        let err = ServerOptions::new("certs/nope.pem", "certs/server.key")
            .settings(&base())
            .unwrap_err();
        assert_eq!(err.key(), Some("cert"));
        assert!(err.message().starts_with("cannot read "), "{err}");
        assert!(err.message().contains("certs/nope.pem"), "{err}");
        let err = ServerOptions::new("certs/server.pem", "certs/ca.pem")
            .settings(&base())
            .unwrap_err();
        assert_eq!(err.key(), Some("key"));
        assert!(
            err.message().starts_with("no private key found in"),
            "{err}"
        );
        assert!(err.message().ends_with("certs/ca.pem"), "{err}");
        let err = ServerOptions::new("certs/server.pem", "certs/ca.key")
            .settings(&base())
            .unwrap_err();
        assert!(err.message().starts_with("cannot use certificate"), "{err}");
        let mut client = ClientOptions::new("example.test");
        client.ca = Some("certs/missing-ca.pem".into());
        let err = client.settings(&base()).unwrap_err();
        assert_eq!(err.key(), Some("ca"));
        assert!(err.to_string().contains("missing-ca.pem"), "{err}");
    }

    #[test]
    fn loads_rsa_pkcs1_and_ec_sec1_keys() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        for (cert, key) in [("rsa.pem", "rsa-pkcs1.key"), ("ec.pem", "ec-sec1.key")] {
            ServerOptions::new(cert, key).settings(&data).unwrap();
        }
    }
}
