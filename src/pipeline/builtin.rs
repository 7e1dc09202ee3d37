//! The layers every build of xypro-stack knows by name.

use super::Registry;
use xypro_core::{BoxAcceptor, BoxConnector};
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
                Ok(BoxConnector::new(tower::ServiceExt::map_response(
                    options.build()?,
                    xypro_core::BoxIo::new,
                )))
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
