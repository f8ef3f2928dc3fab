//! Switching a router's statistics on and off, and reaching them.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Method, Router};
use crate::stats::Stats;

impl Router {
    /// Records statistics for this router's methods (`true`, the default)
    /// or not (`false`): then a call reads no clock and touches no counter,
    /// [`stats_handle`](Router::stats_handle) is `None`, the codec layer of
    /// its endpoint records no stage, and a handler asking for
    /// [`Stats`] gets -32603.
    ///
    /// Switching them back on starts new, empty statistics.
    ///
    /// ```
    /// use rpckit::Router;
    ///
    /// let quiet = Router::new().sync_method("ping", || "pong").stats(false);
    /// assert!(quiet.stats_handle().is_none());
    /// ```
    pub fn stats(mut self, on: bool) -> Self {
        if on == self.stats.is_some() {
            return self;
        }
        self.stats = on.then(Stats::new);
        let stats = self.stats.clone();
        let mut names: HashMap<*const Method, Vec<Box<str>>> = HashMap::new();
        for (name, method) in self.methods.iter() {
            names.entry(Arc::as_ptr(method)).or_default().push(name.clone());
        }
        self.replace_each(|method| {
            let mut names = names[&Arc::as_ptr(method)].clone();
            names.sort_unstable();
            stats.as_ref().map(|stats| stats.method(&names))
        });
        self
    }

    /// The statistics of this router's methods (and of the endpoint and
    /// transports serving it), or `None` when they are
    /// [off](Router::stats). Clones of the router, and routers built on
    /// from it, share them.
    pub fn stats_handle(&self) -> Option<Stats> {
        self.stats.clone()
    }

    /// `other`'s methods, counting in this router's stats from now on.
    /// Aliases stay one method.
    pub(super) fn adopt(&self, other: &Router) -> Vec<(Box<str>, Arc<Method>)> {
        let same = match (&self.stats, &other.stats) {
            (Some(mine), Some(theirs)) => mine.same_as(theirs),
            (None, None) => true,
            _ => false,
        };
        if same {
            return other
                .methods
                .iter()
                .map(|(name, method)| (name.clone(), method.clone()))
                .collect();
        }
        let mut moved: HashMap<*const Method, Arc<Method>> = HashMap::new();
        other
            .methods
            .iter()
            .map(|(name, method)| {
                let new = moved.entry(Arc::as_ptr(method)).or_insert_with(|| {
                    let stats = match (&self.stats, &method.stats) {
                        (Some(mine), Some(theirs)) => Some(mine.adopt(theirs)),
                        (Some(mine), None) => Some(mine.method(std::slice::from_ref(name))),
                        (None, _) => None,
                    };
                    Arc::new(Method {
                        handler: method.handler.clone(),
                        settings: method.settings.clone(),
                        stats,
                    })
                });
                (name.clone(), new.clone())
            })
            .collect()
    }

    /// Replaces every method by a copy with the stats `stats_of` gives it.
    fn replace_each(
        &mut self,
        mut stats_of: impl FnMut(&Arc<Method>) -> Option<Arc<crate::stats::MethodStats>>,
    ) {
        let mut replaced: HashMap<*const Method, Arc<Method>> = HashMap::new();
        let methods = Arc::make_mut(&mut self.methods);
        for method in methods.values_mut() {
            let new = replaced
                .entry(Arc::as_ptr(method))
                .or_insert_with(|| {
                    Arc::new(Method {
                        handler: method.handler.clone(),
                        settings: method.settings.clone(),
                        stats: stats_of(method),
                    })
                })
                .clone();
            *method = new;
        }
    }
}
