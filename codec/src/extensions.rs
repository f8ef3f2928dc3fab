//! The typed facts that travel with a frame and with each of its calls.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

/// Facts about a frame, keyed by type: what the transport knows about the
/// connection and request, and whatever layers and handlers add.
///
/// Reading is by type, as with [`http::Extensions`]. The difference is in how
/// the transport's facts get here: a transport hands over one shared bundle
/// ([`Facts`]) instead of inserting each fact into a map, which for a small
/// call cost more than the call's own work (one allocation per fact, a hash
/// map, and dropping it all again). Values [`insert`](Extensions::insert)ed
/// later go into a map of their own and win over a fact of the same type.
///
/// Cloning is two reference counts: the calls of a batch share one copy
/// until one of them inserts something.
///
/// ```
/// use rpckit_codec::{Extensions, PeerAddr};
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct User(&'static str);
///
/// let mut extensions = Extensions::new();
/// assert_eq!(extensions.get::<User>(), None);
/// extensions.insert(User("ada"));
/// assert_eq!(extensions.get::<User>(), Some(&User("ada")));
/// assert_eq!(extensions.get::<PeerAddr>(), None);
/// ```
#[derive(Clone, Default)]
pub struct Extensions {
    /// What the transport knows, shared by every frame and call it made.
    facts: Option<Arc<dyn Facts>>,
    /// What was inserted; copied on the first insert after a clone.
    added: Option<Arc<http::Extensions>>,
}

/// A bundle of facts a transport offers by type: a connection's addresses,
/// a request's headers. Implement [`get`](Facts::get) with [`fact`]:
///
/// ```
/// use std::any::{Any, TypeId};
/// use std::sync::Arc;
/// use rpckit_codec::{fact, Extensions, Facts, PeerAddr};
///
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// struct ConnectionNumber(u64);
///
/// struct Connection {
///     number: ConnectionNumber,
///     peer: Option<PeerAddr>,
/// }
///
/// impl Facts for Connection {
///     fn get(&self, type_id: TypeId) -> Option<&(dyn Any + Send + Sync)> {
///         fact(type_id, &self.number).or_else(|| fact(type_id, self.peer.as_ref()?))
///     }
/// }
///
/// let connection = Arc::new(Connection { number: ConnectionNumber(7), peer: None });
/// let extensions = Extensions::with_facts(connection);
/// assert_eq!(extensions.get::<ConnectionNumber>(), Some(&ConnectionNumber(7)));
/// assert_eq!(extensions.get::<PeerAddr>(), None);
/// ```
pub trait Facts: Send + Sync + 'static {
    /// The fact whose type has this id, if the bundle has one.
    fn get(&self, type_id: TypeId) -> Option<&(dyn Any + Send + Sync)>;
}

/// `value`, if it is the fact of type `type_id`: the building block of
/// [`Facts::get`].
pub fn fact<T: Any + Send + Sync>(type_id: TypeId, value: &T) -> Option<&(dyn Any + Send + Sync)> {
    if type_id == TypeId::of::<T>() {
        Some(value)
    } else {
        None
    }
}

impl Extensions {
    /// No facts, nothing inserted.
    pub fn new() -> Self {
        Extensions::default()
    }

    /// A transport's facts, nothing inserted yet.
    pub fn with_facts(facts: Arc<dyn Facts>) -> Self {
        Extensions {
            facts: Some(facts),
            added: None,
        }
    }

    /// The value of type `T`: an inserted one, else the transport's fact.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inserted::<T>().or_else(|| self.provided::<T>())
    }

    /// The value of type `T`, to change. A transport's fact is copied into
    /// the inserted values first: the transport's bundle is shared, and
    /// stays as it was.
    pub fn get_mut<T: Clone + Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        if self.inserted::<T>().is_none() {
            let fact = self.provided::<T>()?.clone();
            self.insert(fact);
        }
        self.added_mut().get_mut()
    }

    /// Adds `value`, shadowing a fact of its type; returns the value of its
    /// type inserted before, if any.
    pub fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.added_mut().insert(value)
    }

    fn inserted<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.added.as_deref()?.get()
    }

    fn provided<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.facts
            .as_deref()?
            .get(TypeId::of::<T>())?
            .downcast_ref()
    }

    fn added_mut(&mut self) -> &mut http::Extensions {
        Arc::make_mut(self.added.get_or_insert_with(Default::default))
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("facts", &self.facts.is_some())
            .field("added", &self.added)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Name(&'static str);

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Port(u16);

    struct Bundle {
        name: Name,
        port: Option<Port>,
    }

    impl Facts for Bundle {
        fn get(&self, type_id: TypeId) -> Option<&(dyn Any + Send + Sync)> {
            fact(type_id, &self.name).or_else(|| fact(type_id, self.port.as_ref()?))
        }
    }

    fn with_bundle(port: Option<Port>) -> Extensions {
        Extensions::with_facts(Arc::new(Bundle {
            name: Name("transport"),
            port,
        }))
    }

    #[test]
    fn facts_are_found_by_type_and_missing_ones_are_none() {
        let extensions = with_bundle(None);
        assert_eq!(extensions.get::<Name>(), Some(&Name("transport")));
        assert_eq!(extensions.get::<Port>(), None);
        assert_eq!(extensions.get::<String>(), None);
        assert_eq!(with_bundle(Some(Port(80))).get::<Port>(), Some(&Port(80)));
    }

    #[test]
    fn an_inserted_value_shadows_the_fact_of_its_type() {
        let mut extensions = with_bundle(Some(Port(80)));
        assert_eq!(extensions.insert(Name("layer")), None);
        assert_eq!(extensions.get::<Name>(), Some(&Name("layer")));
        assert_eq!(extensions.insert(Name("again")), Some(Name("layer")));
        assert_eq!(extensions.get::<Port>(), Some(&Port(80)));
    }

    #[test]
    fn changing_a_fact_leaves_the_shared_bundle_and_other_clones_alone() {
        let mut first = with_bundle(Some(Port(80)));
        let second = first.clone();
        first.get_mut::<Port>().expect("a port").0 = 8080;
        assert_eq!(first.get::<Port>(), Some(&Port(8080)));
        assert_eq!(second.get::<Port>(), Some(&Port(80)));
        assert_eq!(first.get_mut::<String>(), None);
    }

    #[test]
    fn an_insert_after_a_clone_is_seen_only_by_its_own_copy() {
        let mut first = Extensions::new();
        first.insert(Port(1));
        let mut second = first.clone();
        second.insert(Port(2));
        second.insert(Name("second"));
        assert_eq!(first.get::<Port>(), Some(&Port(1)));
        assert_eq!(first.get::<Name>(), None);
        assert_eq!(second.get::<Port>(), Some(&Port(2)));
    }
}
