//! `Selections`: each `select` group's current choice by group name, kept across rebuilds.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, PoisonError, RwLock},
};

/// The choice of one group: a member name, or none (the group's default).
#[derive(Debug, Default)]
pub struct Selection {
    chosen: RwLock<Option<Arc<str>>>,
}

impl Selection {
    /// An empty choice: the group uses its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Chooses `member` for the connections that start from now on.
    ///
    /// A group whose members do not include `member` keeps using its default.
    pub fn choose(&self, member: &str) {
        *self.chosen.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::from(member));
    }

    /// The member chosen last, if any.
    pub fn chosen(&self) -> Option<Arc<str>> {
        self.chosen
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The choices of every group by name; clones share them.
///
/// Keep one for the life of the process and hand it to every build, so that a reload keeps
/// each group's choice.
#[derive(Clone, Default)]
pub struct Selections {
    groups: Arc<Mutex<HashMap<String, Arc<Selection>>>>,
}

impl Selections {
    /// No choices yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The choice of group `name`, empty the first time it is asked for.
    pub fn group(&self, name: &str) -> Arc<Selection> {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }
}

impl fmt::Debug for Selections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        let mut map = f.debug_map();
        for (name, selection) in groups.iter() {
            map.entry(name, &selection.chosen());
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_the_same_choice_each_time_it_is_asked_for() {
        let selections = Selections::new();
        assert_eq!(selections.group("proxy").chosen(), None);
        selections.group("proxy").choose("b");
        assert_eq!(
            selections.clone().group("proxy").chosen().as_deref(),
            Some("b")
        );
        assert_eq!(selections.group("other").chosen(), None);
    }
}
