//! `Named`: the top of every named outbound pipeline, which enters its name in the chain of
//! each connection it carries.

use std::{
    sync::Arc,
    task::{Context, Poll},
};
use tower::Service;
use xypro_core::{BoxConnector, BoxError, BoxIo, Target};

/// Records `name` in the connection's route, then calls the pipeline.
#[derive(Debug, Clone)]
pub(crate) struct Named {
    name: Arc<str>,
    inner: BoxConnector,
}

impl Named {
    /// The outbound pipeline `inner`, known as `name`, boxed again.
    pub(crate) fn boxed(name: &str, inner: BoxConnector) -> BoxConnector {
        BoxConnector::new(Named {
            name: Arc::from(name),
            inner,
        })
    }
}

impl Service<Target> for Named {
    type Response = BoxIo;
    type Error = BoxError;
    type Future = <BoxConnector as Service<Target>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        target.context.enter_outbound(&self.name);
        self.inner.call(target)
    }
}
