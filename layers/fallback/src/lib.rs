//! Fallbacks for xypro-stack, as pure codecs: what an inbound does with a connection its
//! pipeline refuses (a wrong path, not an upgrade, an unknown VLESS user).
//!
//! - [`proto::proxy_protocol`]: the PROXY protocol v1 and v2 headers sent ahead of the replayed
//!   bytes, so the backend (nginx with `proxy_protocol`) sees the real client address.
//! - [`proto::sniff`]: the request path read from the first bytes of an HTTP/1 request.
//! - [`Fallbacks`]: the Xray-style choice of an entry by SNI, then ALPN, then path, validated
//!   from the YAML [`FallbackOptions`] (`fallback: web`, `fallback: { outbound: web,
//!   proxy_protocol: 2 }`, or a list of `{ sni, alpn, path, outbound, proxy_protocol }`).
//!
//! Nothing here does I/O: the inbound dials the chosen outbound, writes the header and the
//! bytes it already read, then relays.
//!
//! ```
//! use xypro_fallback::{FallbackOptions, Request};
//!
//! let options: FallbackOptions = serde_yaml::from_str(
//!     "[{ outbound: web }, { alpn: h2, outbound: web2, proxy_protocol: 2 }]",
//! ).unwrap();
//! let fallbacks = options.validate().unwrap();
//! let request = Request { sni: Some("Example.COM"), alpn: Some("h2"), first_bytes: b"PRI * HTTP/2.0\r\n" };
//! let chosen = fallbacks.choose(&request).unwrap();
//! assert_eq!(chosen.outbound, "web2");
//! ```

mod choose;
mod config;
mod error;
pub mod proto;

pub use choose::{Fallbacks, Request};
pub use config::{EntryOptions, Fallback, FallbackOptions, ProxyVersion};
pub use error::ConfigError;
pub use proto::sniff::sniff_path;
