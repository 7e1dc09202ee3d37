//! `Select`: the connector that dials through whichever member is chosen now.

use crate::{SelectError, Selection};
use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};
use tower::{Service, ServiceExt, util::Oneshot};
use xypro_core::{BoxConnector, BoxError, BoxIo, Target};

/// Sends each connection through the member its [`Selection`] names, or through the default
/// when none is chosen or the chosen one is not a member. Clones share everything.
#[derive(Clone)]
pub struct Select {
    members: Arc<[(Arc<str>, BoxConnector)]>,
    default: usize,
    selection: Arc<Selection>,
}

impl fmt::Debug for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("members", &self.members().collect::<Vec<_>>())
            .field("current", &self.current())
            .finish()
    }
}

impl Select {
    /// A group of `(name, connector)` members that uses `default` until `selection` names
    /// another member.
    pub fn new(
        members: Vec<(String, BoxConnector)>,
        default: &str,
        selection: Arc<Selection>,
    ) -> Result<Self, SelectError> {
        if members.is_empty() {
            return Err(SelectError::Empty);
        }
        let default = members
            .iter()
            .position(|(name, _)| name == default)
            .ok_or_else(|| SelectError::UnknownDefault(default.to_owned()))?;
        Ok(Select {
            members: members
                .into_iter()
                .map(|(name, connector)| (Arc::from(name), connector))
                .collect(),
            default,
            selection,
        })
    }

    /// The members' names, in the order given.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(name, _)| &**name)
    }

    /// The member new connections go through now.
    pub fn current(&self) -> &str {
        &self.members[self.current_index()].0
    }

    fn current_index(&self) -> usize {
        self.selection
            .chosen()
            .and_then(|chosen| self.members.iter().position(|(name, _)| *name == chosen))
            .unwrap_or(self.default)
    }
}

impl Service<Target> for Select {
    type Response = BoxIo;
    type Error = BoxError;
    type Future = Oneshot<BoxConnector, Target>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let (_, connector) = &self.members[self.current_index()];
        connector.clone().oneshot(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::service_fn;
    use xypro_core::Address;

    /// A member that enters its name in the chain and connects to nothing.
    fn member(name: &'static str) -> (String, BoxConnector) {
        let connector = BoxConnector::new(service_fn(move |target: Target| async move {
            target.context.enter_outbound(&Arc::from(name));
            Ok::<_, BoxError>(BoxIo::new(tokio::io::duplex(8).0))
        }));
        (name.to_owned(), connector)
    }

    async fn carried_by(select: &Select) -> String {
        let target = Target::tcp("example.com:80".parse::<Address>().unwrap());
        let context = target.context.clone();
        select.clone().oneshot(target).await.unwrap();
        context.route().chain.last().unwrap().to_string()
    }

    #[tokio::test]
    async fn connections_follow_the_choice_and_fall_back_to_the_default() {
        let selection = Arc::new(Selection::new());
        let select = Select::new(vec![member("a"), member("b")], "b", selection.clone()).unwrap();
        assert_eq!(carried_by(&select).await, "b");
        selection.choose("a");
        assert_eq!(
            (select.current(), carried_by(&select).await.as_str()),
            ("a", "a")
        );
        selection.choose("gone");
        assert_eq!(carried_by(&select).await, "b");
    }

    #[test]
    fn an_empty_group_or_a_foreign_default_is_refused() {
        let selection = Arc::new(Selection::new());
        let err = Select::new(vec![], "a", selection.clone()).unwrap_err();
        assert_eq!(err, SelectError::Empty);
        let err = Select::new(vec![member("a")], "z", selection).unwrap_err();
        assert_eq!(err.to_string(), "`z` is not one of the group's outbounds");
    }
}
