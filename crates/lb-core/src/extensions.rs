//! A type map for user data attached to a backend, in the manner of `http::Extensions`.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

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
/// The values are shared between clones and copied on the first write to a shared map, so
/// cloning a backend (which every update does for the backends that stay) costs one reference
/// count, whatever metadata it carries. A lookup compares type ids in a short list.
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
    // Optional so a backend without extensions pays one null pointer (8 bytes); shared so a
    // clone is a reference count; a list because a backend carries a handful of types at most.
    values: Option<Arc<Values>>,
}

/// The values of an [`Extensions`], each with its type's id.
type Values = Vec<(TypeId, Box<dyn AnyClone>)>;

impl Extensions {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn position<T: 'static>(&self) -> Option<usize> {
        let id = TypeId::of::<T>();
        self.values.as_ref()?.iter().position(|(t, _)| *t == id)
    }

    /// The list, unshared (copied first if a clone shares it).
    fn values_mut(&mut self) -> &mut Values {
        Arc::make_mut(self.values.get_or_insert_with(Arc::default))
    }

    /// Stores `value`, returning the previous value of the same type, if any.
    pub fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        let boxed: Box<dyn AnyClone> = Box::new(value);
        match self.position::<T>() {
            Some(i) => {
                let old = std::mem::replace(&mut self.values_mut()[i].1, boxed);
                old.into_any().downcast::<T>().ok().map(|b| *b)
            }
            None => {
                self.values_mut().push((TypeId::of::<T>(), boxed));
                None
            }
        }
    }

    /// The value of type `T`, if present.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        let i = self.position::<T>()?;
        // Through the box to the value (a `Box<dyn AnyClone>` is itself `AnyClone`).
        (*self.values.as_ref()?[i].1).as_any().downcast_ref()
    }

    /// A mutable reference to the value of type `T`, if present.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        let i = self.position::<T>()?;
        (*self.values_mut()[i].1).as_any_mut().downcast_mut()
    }

    /// Removes and returns the value of type `T`, if present.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        let i = self.position::<T>()?;
        let (_, old) = self.values_mut().swap_remove(i);
        old.into_any().downcast::<T>().ok().map(|b| *b)
    }

    /// Whether the map holds no value.
    pub fn is_empty(&self) -> bool {
        self.values.as_ref().is_none_or(|v| v.is_empty())
    }

    /// How many values the map holds.
    pub fn len(&self) -> usize {
        self.values.as_ref().map_or(0, |v| v.len())
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.values = None;
    }

    /// Moves every value of `other` into `self`, replacing values of the same type.
    pub fn extend(&mut self, other: Extensions) {
        let Some(other) = other.values else {
            return;
        };
        let other = Arc::try_unwrap(other).unwrap_or_else(|shared| (*shared).clone());
        for (id, value) in other {
            let values = self.values_mut();
            match values.iter_mut().find(|(t, _)| *t == id) {
                Some(slot) => slot.1 = value,
                None => values.push((id, value)),
            }
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
        assert_eq!(
            copy.get::<A>(),
            Some(&A(2)),
            "a clone keeps its values when the original changes"
        );
        let mut copy2 = copy.clone();
        copy2.get_mut::<B>().unwrap().0.push('z');
        assert_eq!(
            copy.get::<B>(),
            Some(&B("xy".into())),
            "writes copy a shared map"
        );
        assert_eq!(copy2.get::<B>(), Some(&B("xyz".into())));
        let mut other = Extensions::new();
        other.insert(A(7));
        ext.extend(other);
        assert_eq!(ext.get::<A>(), Some(&A(7)));
        ext.clear();
        assert!(ext.is_empty());
        assert_eq!(ext.get::<u8>(), None);
    }
}
