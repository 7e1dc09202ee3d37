//! The request every connector serves: a destination, a network, a policy and its connection.

use crate::{Address, ConnectionContext, DestinationPolicy, Meta};

/// The transport the destination expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Network {
    /// A TCP byte stream.
    Tcp,
    /// UDP datagrams, carried on the stream as `len(2, big-endian) | data` frames.
    Udp,
}

impl Network {
    /// The lowercase name (`tcp`, `udp`), as logs and the admin API write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Tcp => "tcp",
            Network::Udp => "udp",
        }
    }
}

/// One outbound request: connect to `destination` over `network`.
///
/// Two targets are equal when they ask for the same thing from the same origin; the live
/// [`ConnectionContext`] (its id, counters and route) is not compared.
#[derive(Debug, Clone)]
pub struct Target {
    /// The destination host and port (a layer may rewrite it; the context keeps the original).
    pub destination: Address,
    /// TCP stream or UDP datagrams.
    pub network: Network,
    /// Which resolved addresses may be dialled.
    pub policy: DestinationPolicy,
    /// The logical connection this request belongs to.
    pub context: ConnectionContext,
}

impl Target {
    /// A request from `meta` for `destination`, with a fresh connection context.
    pub fn new(destination: Address, network: Network, meta: Meta) -> Self {
        let context = ConnectionContext::new(meta, network, destination.clone());
        Target {
            destination,
            network,
            policy: DestinationPolicy::default(),
            context,
        }
    }

    /// A TCP target with no origin and no address restrictions.
    pub fn tcp(destination: impl Into<Address>) -> Self {
        Self::new(destination.into(), Network::Tcp, Meta::default())
    }

    /// A UDP target with no origin and no address restrictions.
    pub fn udp(destination: impl Into<Address>) -> Self {
        Self::new(destination.into(), Network::Udp, Meta::default())
    }

    /// Sets the destination policy.
    pub fn with_policy(mut self, policy: DestinationPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// A request opened on behalf of this one (a session's destination): same origin and
    /// policy, a child connection context.
    pub fn child(&self, destination: Address, network: Network) -> Target {
        Target {
            context: self.context.child(network, destination.clone()),
            destination,
            network,
            policy: self.policy.clone(),
        }
    }

    /// Where the request came from.
    pub fn meta(&self) -> &Meta {
        self.context.meta()
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.destination == other.destination
            && self.network == other.network
            && self.policy == other.policy
            && self.meta() == other.meta()
    }
}

impl Eq for Target {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_share_origin_and_policy_under_a_new_context() {
        let meta = Meta::new("vless").with_user(Some("bob".into()));
        let parent = Target::new("v1.mux.cool:0".parse().unwrap(), Network::Udp, meta.clone())
            .with_policy(DestinationPolicy::public_only());
        let child = parent.child("1.1.1.1:53".parse().unwrap(), Network::Udp);
        assert_eq!(child.meta(), &meta);
        assert_eq!(child.policy, parent.policy);
        assert_eq!(child.context.parent(), Some(parent.context.id()));
        assert_eq!(
            child.context.destination(),
            &"1.1.1.1:53".parse::<Address>().unwrap()
        );
    }

    #[test]
    fn equality_ignores_the_live_context() {
        let a = Target::tcp("example.com:80".parse::<Address>().unwrap());
        let b = Target::tcp("example.com:80".parse::<Address>().unwrap());
        assert_ne!(a.context.id(), b.context.id());
        assert_eq!(a, b);
        assert_ne!(a, Target::udp("example.com:80".parse::<Address>().unwrap()));
    }
}
