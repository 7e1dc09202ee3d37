//! The layers every build of xypro-stack knows by name.

use super::Registry;
use crate::mixed::MixedOptions;
use xypro_balance::BalanceOptions;
use xypro_h2::{self as h2, grpc};
use xypro_http::HttpOptions;
use xypro_httpupgrade as httpupgrade;
use xypro_limit::{ConcurrencyLimitOptions, RateLimitOptions, TimeoutOptions};
use xypro_route::{RejectOptions, RouteOptions};
use xypro_select::SelectOptions;
use xypro_socks5::Socks5Options;
use xypro_tcp::{DirectOptions, TcpOptions};
use xypro_tls as tls;
use xypro_vless as vless;
use xypro_websocket as ws;

impl Registry {
    /// A registry with every built-in layer.
    pub fn with_builtin() -> Self {
        let mut registry = Registry::new();
        registry
            .terminal::<DirectOptions>("direct")
            .terminal::<TcpOptions>("tcp")
            .terminal::<BalanceOptions>("balance")
            .terminal::<RouteOptions>("route")
            .terminal::<RejectOptions>("reject")
            .terminal::<SelectOptions>("select")
            .connector::<TimeoutOptions>("timeout")
            .connector::<ConcurrencyLimitOptions>("concurrency_limit")
            .connector::<RateLimitOptions>("rate_limit")
            .connector::<tls::ClientOptions>("tls")
            .connector::<ws::ClientOptions>("websocket")
            .connector::<httpupgrade::ClientOptions>("httpupgrade")
            .connector::<h2::ClientOptions>("h2")
            .connector::<grpc::ClientOptions>("grpc")
            .connector::<vless::ClientOptions>("vless")
            .upgrade::<tls::ServerOptions>("tls")
            .upgrade::<ws::ServerOptions>("websocket")
            .upgrade::<httpupgrade::ServerOptions>("httpupgrade")
            .upgrade::<h2::ServerOptions>("h2")
            .upgrade::<grpc::ServerOptions>("grpc")
            .protocol::<Socks5Options>("socks5")
            .protocol::<HttpOptions>("http")
            .protocol::<MixedOptions>("mixed")
            .protocol::<vless::ServerOptions>("vless");
        registry
    }
}
