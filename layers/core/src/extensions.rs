//! `Extensions`: a map from type to value, for what accept-side upgrades learn about a stream.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    fmt,
};

/// Values keyed by their type: an upgrade inserts what it learned (the negotiated ALPN, the
/// SNI, the request path) and any later layer reads it by type.
#[derive(Default)]
pub struct Extensions {
    map: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl Extensions {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, returning the previous value of its type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.map
            .insert(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.downcast().ok().map(|boxed| *boxed))
    }

    /// The value of type `T`, if one was stored.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// The value of type `T`, mutably.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.map.get_mut(&TypeId::of::<T>())?.downcast_mut()
    }

    /// Takes the value of type `T` out of the map.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.map
            .remove(&TypeId::of::<T>())
            .and_then(|old| old.downcast().ok().map(|boxed| *boxed))
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.map.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Sni(&'static str);

    #[test]
    fn values_are_found_by_type() {
        let mut extensions = Extensions::new();
        assert!(extensions.insert(Sni("a.example")).is_none());
        assert_eq!(extensions.insert(Sni("b.example")), Some(Sni("a.example")));
        extensions.insert(7u16);
        assert_eq!(extensions.get::<Sni>(), Some(&Sni("b.example")));
        *extensions.get_mut::<u16>().unwrap() += 1;
        assert_eq!(extensions.remove::<u16>(), Some(8));
        assert_eq!(extensions.len(), 1);
        assert!(extensions.get::<u32>().is_none());
    }
}
