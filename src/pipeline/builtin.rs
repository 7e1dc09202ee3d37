//! The layers every build of xypro-stack knows by name.

use super::Registry;
use tower::{Layer, ServiceExt};
use xypro_core::{BoxAcceptor, BoxConnector, BoxIo};
use xypro_socks5::{Socks5Acceptor, Socks5Options};
use xypro_tcp::{DirectOptions, TcpOptions};

impl Registry {
    /// A registry with every built-in layer.
    pub fn with_builtin() -> Self {
        let mut registry = Registry::new();
        registry
            .outbound_dialer("direct", |options: DirectOptions, _| {
                Ok(BoxConnector::new(options.build()))
            })
            .outbound_dialer("tcp", |options: TcpOptions, _| {
                Ok(BoxConnector::new(options.build()?.map_response(BoxIo::new)))
            })
            .outbound_layer("tls", |options: xypro_tls::ClientOptions, inner, ctx| {
                let settings = options.validate(ctx.base_dir)?;
                let tls = xypro_tls::TlsClientLayer::new(settings).layer(inner);
                Ok(BoxConnector::new(tls.map_response(BoxIo::new)))
            })
            .inbound_layer("tls", |options: xypro_tls::ServerOptions, inner, ctx| {
                let settings = options.validate(ctx.base_dir)?;
                Ok(BoxAcceptor::new(
                    xypro_tls::TlsServerLayer::new(settings).layer(inner),
                ))
            })
            .inbound_protocol("socks5", |options: Socks5Options, ctx| {
                let listen = ctx.listen.expect("inbound layers know their listener");
                Ok(BoxAcceptor::new(Socks5Acceptor::new(
                    options.validate(listen)?,
                )))
            });
        registry
    }
}
