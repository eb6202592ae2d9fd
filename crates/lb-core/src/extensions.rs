//! A type map for user data attached to a backend, in the manner of `http::Extensions`.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;

/// A value that can be stored in [`Extensions`]: cloneable, shareable, `'static`.
trait AnyClone: Any + Send + Sync {
    fn clone_box(&self) -> Box<dyn AnyClone>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Clone + Send + Sync + 'static> AnyClone for T {
    fn clone_box(&self) -> Box<dyn AnyClone> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl Clone for Box<dyn AnyClone> {
    fn clone(&self) -> Self {
        (**self).clone_box()
    }
}

/// User data attached to a [`Backend`](crate::Backend), one value per type.
///
/// Discovery sources put metadata here (a Kubernetes zone, a DNS priority); applications add
/// their own (a TLS server name, a connection pool key). Extensions are attributes: they never
/// take part in a backend's identity, equality or ordering. An empty map allocates nothing.
///
/// ```
/// use lb_core::Extensions;
/// #[derive(Clone, Debug, PartialEq)]
/// struct Zone(&'static str);
///
/// let mut ext = Extensions::new();
/// ext.insert(Zone("eu-west-1a"));
/// assert_eq!(ext.get::<Zone>(), Some(&Zone("eu-west-1a")));
/// ```
#[derive(Clone, Default)]
pub struct Extensions {
    // Boxed and optional so a backend without extensions pays one null pointer (8 bytes), not
    // an empty HashMap (48 bytes): backends are stored by the hundred thousand.
    #[allow(clippy::box_collection)]
    map: Option<Box<HashMap<TypeId, Box<dyn AnyClone>>>>,
}

impl Extensions {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, returning the previous value of the same type, if any.
    pub fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.map
            .get_or_insert_with(Box::default)
            .insert(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.into_any().downcast::<T>().ok().map(|b| *b))
    }

    /// The value of type `T`, if present.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map
            .as_ref()?
            .get(&TypeId::of::<T>())
            .and_then(|v| (**v).as_any().downcast_ref())
    }

    /// A mutable reference to the value of type `T`, if present.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.map
            .as_mut()?
            .get_mut(&TypeId::of::<T>())
            .and_then(|v| (**v).as_any_mut().downcast_mut())
    }

    /// Removes and returns the value of type `T`, if present.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.map
            .as_mut()?
            .remove(&TypeId::of::<T>())
            .and_then(|old| old.into_any().downcast::<T>().ok().map(|b| *b))
    }

    /// Whether the map holds no value.
    pub fn is_empty(&self) -> bool {
        self.map.as_ref().is_none_or(|m| m.is_empty())
    }

    /// How many values the map holds.
    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.map = None;
    }

    /// Moves every value of `other` into `self`, replacing values of the same type.
    pub fn extend(&mut self, other: Extensions) {
        if let Some(other) = other.map {
            self.map.get_or_insert_with(Box::default).extend(*other);
        }
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct A(u32);
    #[derive(Clone, Debug, PartialEq)]
    struct B(String);

    #[test]
    fn stores_one_value_per_type() {
        let mut ext = Extensions::new();
        assert!(ext.is_empty());
        assert_eq!(ext.insert(A(1)), None);
        assert_eq!(ext.insert(B("x".into())), None);
        assert_eq!(ext.insert(A(2)), Some(A(1)));
        assert_eq!(ext.len(), 2);
        assert_eq!(ext.get::<A>(), Some(&A(2)));
        ext.get_mut::<B>().unwrap().0.push('y');
        assert_eq!(ext.get::<B>(), Some(&B("xy".into())));
        let copy = ext.clone();
        assert_eq!(ext.remove::<A>(), Some(A(2)));
        assert_eq!(ext.get::<A>(), None);
        assert_eq!(copy.get::<A>(), Some(&A(2)), "clones are deep");
        let mut other = Extensions::new();
        other.insert(A(7));
        ext.extend(other);
        assert_eq!(ext.get::<A>(), Some(&A(7)));
        ext.clear();
        assert!(ext.is_empty());
        assert_eq!(ext.get::<u8>(), None);
    }
}
