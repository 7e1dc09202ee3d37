//! The layers every build of xypro-stack knows by name.

use super::{LayerContext, Registry};
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
            .outbound_layer(
                "websocket",
                |options: xypro_websocket::ClientOptions, inner, ctx| {
                    let settings = options.validate(default_host(ctx).as_deref())?;
                    let ws = xypro_websocket::WsClientLayer::new(settings).layer(inner);
                    Ok(BoxConnector::new(ws.map_response(BoxIo::new)))
                },
            )
            .inbound_layer(
                "websocket",
                |options: xypro_websocket::ServerOptions, inner, _| {
                    let settings = options.validate()?;
                    Ok(BoxAcceptor::new(
                        xypro_websocket::WsServerLayer::new(settings).layer(inner),
                    ))
                },
            )
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

/// The `Host` a WebSocket client sends by default: the TLS server name below it, else the
/// host of the address the pipeline dials.
fn default_host(ctx: &LayerContext<'_>) -> Option<String> {
    if let Some(name) = ctx
        .option_below("tls", "server_name")
        .and_then(|v| v.as_str())
    {
        return Some(name.to_owned());
    }
    let address = ctx.option_below("tcp", "address")?.as_str()?;
    match address.parse::<xypro_core::Address>().ok()? {
        xypro_core::Address::Ip(std::net::SocketAddr::V6(v6)) => Some(format!("[{}]", v6.ip())),
        other => Some(other.host()),
    }
}
