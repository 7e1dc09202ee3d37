//! Layer options: the one trait every layer's YAML section implements, the context it is
//! checked in, and the one error it reports.

use crate::{BoxConnector, BoxError, Extensions};
use serde::de::DeserializeOwned;
use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// A layer's options as written in YAML, checked once into what the pipeline builder stacks:
/// a tower layer for a layer that wraps another, or the service itself for the last one.
///
/// ```
/// use xypro_core::{BuildContext, InvalidOptions, LayerOptions};
///
/// #[derive(serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Greeting { text: String }
///
/// impl LayerOptions for Greeting {
///     type Output = String;
///
///     fn validate(self, _: &BuildContext<'_>) -> Result<String, InvalidOptions> {
///         match self.text.is_empty() {
///             true => Err(InvalidOptions::at("text", "must not be empty")),
///             false => Ok(self.text),
///         }
///     }
/// }
///
/// let options: Greeting = serde_yaml::from_str("{ text: '' }").unwrap();
/// let err = options.validate(&BuildContext::default()).unwrap_err();
/// assert_eq!(err.to_string(), "text: must not be empty");
/// ```
pub trait LayerOptions: DeserializeOwned + Send + 'static {
    /// What the options build: a tower layer, a connector or an acceptor.
    type Output;

    /// Checks every value (paths resolved against `ctx`) and builds the output.
    fn validate(self, ctx: &BuildContext<'_>) -> Result<Self::Output, InvalidOptions>;
}

/// An option value that cannot be used, with the path to it inside the layer's options.
#[derive(Debug, thiserror::Error)]
pub struct InvalidOptions {
    key: Option<String>,
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl InvalidOptions {
    /// An error about the options as a whole.
    pub fn new(message: impl Into<String>) -> Self {
        InvalidOptions {
            key: None,
            message: message.into(),
            source: None,
        }
    }

    /// An error about one option, named by its path (`alpn[1]`, `users[0].id`).
    pub fn at(key: impl Into<String>, message: impl Into<String>) -> Self {
        InvalidOptions {
            key: Some(key.into()),
            ..Self::new(message)
        }
    }

    /// An error about the option `key` names, or about the options as a whole without one.
    pub fn keyed(key: Option<impl Into<String>>, message: impl Into<String>) -> Self {
        InvalidOptions {
            key: key.map(Into::into),
            ..Self::new(message)
        }
    }

    /// Adds the error that caused this one.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The path to the option inside the layer's options, if the error is about one.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// What is wrong, without the key.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for InvalidOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{key}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Looks up another outbound pipeline of the same config by name.
pub type OutboundLookup<'a> = &'a dyn Fn(&str) -> Result<BoxConnector, InvalidOptions>;

/// Where a layer is being built: the pipeline's name, the config's directory, the inbound's
/// listener, the host the hop below reaches, the other outbounds and shared resources.
#[derive(Clone, Copy)]
pub struct BuildContext<'a> {
    name: Option<&'a str>,
    base_dir: &'a Path,
    listen: Option<SocketAddr>,
    dial_host: Option<&'a str>,
    dial_port: Option<u16>,
    outbounds: Option<OutboundLookup<'a>>,
    resources: Option<&'a Extensions>,
}

impl<'a> BuildContext<'a> {
    /// A context resolving relative paths against `base_dir`.
    pub fn new(base_dir: &'a Path) -> Self {
        BuildContext {
            name: None,
            base_dir,
            listen: None,
            dial_host: None,
            dial_port: None,
            outbounds: None,
            resources: None,
        }
    }

    /// Sets the name of the pipeline (the outbound or inbound) the layer belongs to.
    pub fn with_name(mut self, name: &'a str) -> Self {
        self.name = Some(name);
        self
    }

    /// Sets the inbound's listening address (accept-side layers).
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = Some(listen);
        self
    }

    /// Sets the host name the hop below reaches (a TLS server name, else the dialled host).
    pub fn with_dial_host(mut self, host: Option<&'a str>) -> Self {
        self.dial_host = host;
        self
    }

    /// Sets the port the hop below dials (a `tcp` address's port).
    pub fn with_dial_port(mut self, port: Option<u16>) -> Self {
        self.dial_port = port;
        self
    }

    /// Sets how other outbounds are found by name.
    pub fn with_outbounds(mut self, lookup: OutboundLookup<'a>) -> Self {
        self.outbounds = Some(lookup);
        self
    }

    /// Sets the shared resources (a resolver, rule sets) layers may take by type.
    pub fn with_resources(mut self, resources: &'a Extensions) -> Self {
        self.resources = Some(resources);
        self
    }

    /// The name of the pipeline the layer belongs to, when the builder gives one.
    pub fn name(&self) -> Option<&'a str> {
        self.name
    }

    /// The directory relative paths are resolved against (the config file's).
    pub fn base_dir(&self) -> &'a Path {
        self.base_dir
    }

    /// Resolves a path from the config against the config file's directory.
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        self.base_dir.join(path)
    }

    /// The inbound's listening address; an error for layers built outside an inbound.
    pub fn listen(&self) -> Result<SocketAddr, InvalidOptions> {
        self.listen
            .ok_or_else(|| InvalidOptions::new("this layer belongs in an inbound pipeline"))
    }

    /// The host name the hop below this layer reaches, when the pipeline names one.
    pub fn dial_host(&self) -> Option<&'a str> {
        self.dial_host
    }

    /// The port the hop below this layer dials, when the pipeline names one.
    pub fn dial_port(&self) -> Option<u16> {
        self.dial_port
    }

    /// The host and, when known, the port the hop below reaches (`example.com:443`), as
    /// sing-box and Xray clients put in an HTTP/2 `:authority`.
    pub fn dial_authority(&self) -> Option<String> {
        let host = self.dial_host?;
        Some(match self.dial_port {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        })
    }

    /// Another outbound pipeline of the same config.
    pub fn outbound(&self, name: &str) -> Result<BoxConnector, InvalidOptions> {
        match self.outbounds {
            Some(lookup) => lookup(name),
            None => Err(InvalidOptions::new(format!(
                "no outbound named `{name}`: outbounds are not available here"
            ))),
        }
    }

    /// A shared resource of type `T`, if the builder provides one.
    pub fn resource<T: Send + Sync + 'static>(&self) -> Option<&'a T> {
        self.resources?.get::<T>()
    }
}

impl Default for BuildContext<'static> {
    fn default() -> Self {
        BuildContext::new(Path::new("."))
    }
}

impl fmt::Debug for BuildContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildContext")
            .field("name", &self.name)
            .field("base_dir", &self.base_dir)
            .field("listen", &self.listen)
            .field("dial_host", &self.dial_host)
            .field("dial_port", &self.dial_port)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_key_and_keep_their_source() {
        let io = std::io::Error::other("disk on fire");
        let err = InvalidOptions::at("cert", "cannot read cert.pem").with_source(io);
        assert_eq!(err.to_string(), "cert: cannot read cert.pem");
        assert_eq!(err.message(), "cannot read cert.pem");
        assert_eq!(err.key(), Some("cert"));
        let source = std::error::Error::source(&err).unwrap();
        assert_eq!(source.to_string(), "disk on fire");
    }

    #[test]
    fn the_context_resolves_paths_and_refuses_what_it_lacks() {
        let ctx = BuildContext::new(Path::new("/etc/xypro"));
        assert_eq!(
            ctx.resolve_path(Path::new("cert.pem")),
            Path::new("/etc/xypro/cert.pem")
        );
        assert!(ctx.listen().is_err());
        assert!(ctx.outbound("tunnel").is_err());
        assert!(ctx.resource::<u8>().is_none());
        assert_eq!(ctx.name(), None);
        assert_eq!(ctx.with_name("tunnel").name(), Some("tunnel"));
        let listen = "127.0.0.1:1080".parse().unwrap();
        assert_eq!(ctx.with_listen(listen).listen().unwrap(), listen);
        assert_eq!(ctx.dial_authority(), None);
        let below = ctx.with_dial_host(Some("example.test"));
        assert_eq!(below.dial_authority().as_deref(), Some("example.test"));
        let below = below.with_dial_port(Some(443));
        assert_eq!(below.dial_authority().as_deref(), Some("example.test:443"));
    }
}
