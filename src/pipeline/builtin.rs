//! The layers every build of xypro-stack knows by name.

use super::{LayerContext, Registry};
use tower::{Layer, ServiceExt};
use xypro_balance::{Balance, BalanceOptions};
use xypro_core::{BoxAcceptor, BoxConnector, BoxError, BoxIo};
use xypro_limit as limit;
use xypro_socks5::{Socks5Acceptor, Socks5Options};
use xypro_tcp::{DirectOptions, TcpOptions};
use xypro_tls as tls;
use xypro_vless as vless;
use xypro_websocket as ws;

impl Registry {
    /// A registry with every built-in layer.
    pub fn with_builtin() -> Self {
        let mut registry = Registry::new();
        registry
            .outbound_dialer("direct", direct)
            .outbound_dialer("tcp", tcp)
            .outbound_dialer("balance", balance)
            .outbound_layer("timeout", timeout)
            .outbound_layer("concurrency_limit", concurrency_limit)
            .outbound_layer("rate_limit", rate_limit)
            .outbound_layer("tls", tls_client)
            .outbound_layer("websocket", websocket_client)
            .outbound_layer("vless", vless_client)
            .inbound_layer("tls", tls_server)
            .inbound_layer("websocket", websocket_server)
            .inbound_protocol("socks5", socks5)
            .inbound_protocol("vless", vless_server);
        registry
    }
}

type Built<S> = Result<S, BoxError>;

fn direct(options: DirectOptions, _: &LayerContext<'_>) -> Built<BoxConnector> {
    Ok(BoxConnector::new(options.build()))
}

fn tcp(options: TcpOptions, _: &LayerContext<'_>) -> Built<BoxConnector> {
    Ok(BoxConnector::new(options.build()?.map_response(BoxIo::new)))
}

fn balance(options: BalanceOptions, ctx: &LayerContext<'_>) -> Built<BoxConnector> {
    let outbounds = options
        .validate()?
        .into_iter()
        .map(|name| Ok((name.clone(), ctx.outbound(&name)?)))
        .collect::<Result<Vec<_>, BoxError>>()?;
    Ok(BoxConnector::new(
        Balance::new(outbounds).map_response(BoxIo::new),
    ))
}

fn timeout(
    options: limit::TimeoutOptions,
    inner: BoxConnector,
    _: &LayerContext<'_>,
) -> Built<BoxConnector> {
    let layer = limit::TimeoutLayer::new(options.validate()?);
    Ok(BoxConnector::new(
        layer.layer(inner).map_response(BoxIo::new),
    ))
}

fn concurrency_limit(
    options: limit::ConcurrencyLimitOptions,
    inner: BoxConnector,
    _: &LayerContext<'_>,
) -> Built<BoxConnector> {
    let layer = limit::ConcurrencyLimitLayer::new(options.validate()?);
    Ok(BoxConnector::new(
        layer.layer(inner).map_response(BoxIo::new),
    ))
}

fn rate_limit(
    options: limit::RateLimitOptions,
    inner: BoxConnector,
    _: &LayerContext<'_>,
) -> Built<BoxConnector> {
    let layer = limit::RateLimitLayer::new(options.validate()?);
    Ok(BoxConnector::new(
        layer.layer(inner).map_response(BoxIo::new),
    ))
}

fn tls_client(
    options: tls::ClientOptions,
    inner: BoxConnector,
    ctx: &LayerContext<'_>,
) -> Built<BoxConnector> {
    let layer = tls::TlsConnectorLayer::new(options.validate(ctx.base_dir)?);
    Ok(BoxConnector::new(
        layer.layer(inner).map_response(BoxIo::new),
    ))
}

fn websocket_client(
    options: ws::ClientOptions,
    inner: BoxConnector,
    ctx: &LayerContext<'_>,
) -> Built<BoxConnector> {
    let layer = ws::WsConnectorLayer::new(options.validate(default_host(ctx).as_deref())?);
    Ok(BoxConnector::new(
        layer.layer(inner).map_response(BoxIo::new),
    ))
}

fn vless_client(
    options: vless::ClientOptions,
    inner: BoxConnector,
    _: &LayerContext<'_>,
) -> Built<BoxConnector> {
    let layer = vless::VlessConnectorLayer::new(options.validate()?);
    Ok(BoxConnector::new(
        layer.layer(inner).map_response(BoxIo::new),
    ))
}

fn tls_server(
    options: tls::ServerOptions,
    inner: BoxAcceptor,
    ctx: &LayerContext<'_>,
) -> Built<BoxAcceptor> {
    let layer = tls::TlsAcceptorLayer::new(options.validate(ctx.base_dir)?);
    Ok(BoxAcceptor::new(layer.layer(inner)))
}

fn websocket_server(
    options: ws::ServerOptions,
    inner: BoxAcceptor,
    _: &LayerContext<'_>,
) -> Built<BoxAcceptor> {
    let layer = ws::WsAcceptorLayer::new(options.validate()?);
    Ok(BoxAcceptor::new(layer.layer(inner)))
}

fn socks5(options: Socks5Options, ctx: &LayerContext<'_>) -> Built<BoxAcceptor> {
    let listen = ctx.listen.expect("inbound layers know their listener");
    Ok(BoxAcceptor::new(Socks5Acceptor::new(
        options.validate(listen)?,
    )))
}

fn vless_server(options: vless::ServerOptions, _: &LayerContext<'_>) -> Built<BoxAcceptor> {
    Ok(BoxAcceptor::new(vless::VlessAcceptor::new(
        options.validate()?,
    )))
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
