//! xypro-stack: a proxy built from tower layers and declared as YAML pipelines.
//!
//! Inbound connections pass through accept-side layers (TLS, WebSocket, then a proxy protocol:
//! SOCKS5, HTTP, both on one [`mixed`] port, or VLESS) and become [`Target`](core::Target)s;
//! outbound pipelines are stacks of connectors (timeouts, limits, VLESS, WebSocket, TLS, TCP)
//! that reach them. The pieces live in
//! the `xypro-*` layer crates, re-exported here; this crate adds the YAML [`config`], the layer
//! [`Registry`] and the [`serve`] loop the `xypro-stack` binary runs.

pub mod admin;
pub mod config;
pub mod link;
pub mod mixed;
pub mod pipeline;
pub mod qr;
pub mod serve;

pub use config::{Config, ConfigError};
pub use pipeline::Registry;
pub use serve::Server;
pub use xypro_balance as balance;
pub use xypro_core as core;
pub use xypro_core::error_chain;
pub use xypro_dns as dns;
pub use xypro_fallback as fallback;
pub use xypro_h2 as h2;
pub use xypro_http as http;
pub use xypro_httpupgrade as httpupgrade;
pub use xypro_limit as limit;
pub use xypro_route as route;
pub use xypro_select as select;
pub use xypro_socks5 as socks5;
pub use xypro_tcp as tcp;
pub use xypro_tls as tls;
pub use xypro_vless as vless;
pub use xypro_websocket as websocket;
