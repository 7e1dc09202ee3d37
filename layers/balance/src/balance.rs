//! `Balance`: power of two choices over several outbound pipelines, failed ones backed off.

use crate::{
    endpoint::{Balanced, Endpoint, Load},
    error::{AllFailed, Chain, Reason},
};
use rand::Rng;
use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};
use tokio::time::Instant;
use tower::{Service, ServiceExt};
use xypro_core::{BoxConnector, BoxError, Target};

/// Spreads connections over named outbound connectors.
///
/// Each call picks two random endpoints that are not backing off and dials the one with fewer
/// connections (being dialled or open); the returned [`Balanced`] stream counts toward that
/// endpoint until dropped. An endpoint whose call fails backs off (1 s, doubling to 60 s,
/// reset by a success) and the call moves on to the next endpoint, least loaded first, so one
/// server being down does not fail the user's connection. When every endpoint is backing off,
/// the one whose back-off ends first is tried anyway. If nothing connects, the error
/// ([`AllFailed`]) lists every endpoint with its reason. Clones share all state.
#[derive(Clone)]
pub struct Balance {
    endpoints: Arc<[Endpoint]>,
}

impl fmt::Debug for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.endpoints.iter().map(|e| &*e.name).collect();
        f.debug_struct("Balance")
            .field("outbounds", &names)
            .finish()
    }
}

impl Balance {
    /// A balancer over `(name, connector)` pairs; with none, every call fails.
    pub fn new(outbounds: Vec<(String, BoxConnector)>) -> Self {
        Balance {
            endpoints: outbounds
                .into_iter()
                .map(|(name, connector)| Endpoint::new(name, connector))
                .collect(),
        }
    }

    /// The names of the balanced outbounds, in the order given.
    pub fn outbounds(&self) -> impl Iterator<Item = &str> {
        self.endpoints.iter().map(|e| &*e.name)
    }

    /// Connections being dialled or open through the named outbound.
    pub fn load(&self, outbound: &str) -> Option<usize> {
        self.endpoints
            .iter()
            .find(|e| &*e.name == outbound)
            .map(Endpoint::load)
    }

    /// The order in which to try endpoints now, and the backed-off ones that will be skipped.
    fn plan(&self, now: Instant) -> (Vec<usize>, Vec<usize>) {
        let (mut healthy, mut backing_off): (Vec<usize>, Vec<usize>) = (0..self.endpoints.len())
            .partition(|&i| self.endpoints[i].backed_off_until(now).is_none());
        let mut order = Vec::with_capacity(self.endpoints.len());
        if healthy.len() >= 2 {
            let mut rng = rand::rng();
            let a = rng.random_range(0..healthy.len());
            let b = (a + rng.random_range(1..healthy.len())) % healthy.len();
            let pick = if self.endpoints[healthy[b]].load() < self.endpoints[healthy[a]].load() {
                b
            } else {
                a
            };
            order.push(healthy.swap_remove(pick));
        }
        healthy.sort_by_key(|&i| self.endpoints[i].load());
        order.extend(healthy);
        // Rather than fail outright, also try the endpoint whose back-off ends first.
        backing_off.sort_by_key(|&i| self.endpoints[i].backed_off_until(now));
        if !backing_off.is_empty() {
            order.push(backing_off.remove(0));
        }
        (order, backing_off)
    }
}

impl Service<Target> for Balance {
    type Response = Balanced;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Balanced, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let balance = self.clone();
        Box::pin(async move {
            let (order, skipped) = balance.plan(Instant::now());
            let mut failures = Vec::new();
            for index in order {
                let endpoint = &balance.endpoints[index];
                let load = Load::new(balance.endpoints.clone(), index);
                match endpoint.connector.clone().oneshot(target.clone()).await {
                    Ok(io) => {
                        endpoint.succeeded();
                        return Ok(Balanced::new(io, load));
                    }
                    Err(error) => {
                        endpoint.failed(Chain(&*error).to_string(), Instant::now());
                        failures.push((endpoint.name.to_string(), Reason::Failed(error)));
                    }
                }
            }
            let now = Instant::now();
            for index in skipped {
                let endpoint = &balance.endpoints[index];
                let remaining = endpoint
                    .backed_off_until(now)
                    .map_or_else(Default::default, |at| at - now);
                failures.push((
                    endpoint.name.to_string(),
                    Reason::BackingOff {
                        remaining,
                        last_error: endpoint.last_error(),
                    },
                ));
            }
            Err(AllFailed { failures }.into_error())
        })
    }
}

#[cfg(test)]
mod tests;
