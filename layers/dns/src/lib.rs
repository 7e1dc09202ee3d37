//! DNS for xypro-stack: the one resolver a process uses, built from the config's `dns:` block.
//!
//! [`DnsOptions`] lists name servers in order — `system` (the operating system's resolver),
//! `udp://IP[:port]`, `tcp://IP[:port]`, `tls://IP[:port]` and `https://IP[:port]/path` — and
//! a [`Strategy`] for the address families; [`DnsOptions::build`] turns them into a
//! [`SharedResolver`](xypro_core::SharedResolver) that caches answers for their TTLs and asks
//! the next server when one fails. Every layer that resolves (`direct`, routing, the
//! destination policy) takes the same resolver, so the address checked is the address dialled.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let options: xypro_dns::DnsOptions =
//!     serde_yaml::from_str("{ servers: [system], strategy: ipv4_only }").unwrap();
//! let resolver = options.build().unwrap();
//! let ips = resolver.resolve("localhost").await.unwrap();
//! assert!(ips.iter().all(|ip| ip.is_ipv4() && ip.is_loopback()));
//! # }
//! ```

mod options;
mod resolver;
mod server;

pub use options::{DnsOptions, Strategy};
pub use resolver::DnsResolver;
pub use server::Server;
