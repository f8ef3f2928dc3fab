//! Switching a router's statistics on and off, and reaching them.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Method, Router, Shared, Table};
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
    pub fn stats(self, on: bool) -> Self {
        if on == self.shared.table.load().stats.is_some() {
            return self;
        }
        self.edit(|table| {
            table.stats = on.then(Stats::new);
            let mut names: HashMap<*const Method, Vec<Box<str>>> = HashMap::new();
            for (name, method) in &table.methods {
                names
                    .entry(Arc::as_ptr(method))
                    .or_default()
                    .push(name.clone());
            }
            let stats = table.stats.clone();
            replace_each(table, |method| {
                let mut names = names[&Arc::as_ptr(method)].clone();
                names.sort_unstable();
                stats.as_ref().map(|stats| stats.method(&names))
            });
        })
    }

    /// The statistics of this router's methods (and of the endpoint and
    /// transports serving it), or `None` when they are
    /// [off](Router::stats). Clones of the router, routers built on from
    /// it, and the tables a [reload](crate::ApiHandle::reload) serves
    /// share them.
    pub fn stats_handle(&self) -> Option<Stats> {
        self.shared.stats()
    }
}

impl Shared {
    /// The stats of the table served now.
    pub(crate) fn stats(&self) -> Option<Stats> {
        self.table.load().stats.clone()
    }
}

/// `other`'s methods, counting in `stats` from now on (a method of the
/// same name there keeps its counters). Aliases stay one method.
pub(super) fn adopt(stats: Option<&Stats>, other: &Table) -> Vec<(Box<str>, Arc<Method>)> {
    let same = match (stats, &other.stats) {
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
                let counters = match (stats, &method.stats) {
                    (Some(mine), Some(theirs)) => Some(mine.adopt(theirs)),
                    (Some(mine), None) => Some(mine.method(std::slice::from_ref(name))),
                    (None, _) => None,
                };
                Arc::new(Method {
                    stats: counters,
                    ..Method::clone(method)
                })
            });
            (name.clone(), new.clone())
        })
        .collect()
}

/// Replaces every method by a copy with the counters `stats_of` gives it.
fn replace_each(
    table: &mut Table,
    mut stats_of: impl FnMut(&Arc<Method>) -> Option<Arc<crate::stats::MethodStats>>,
) {
    let mut replaced: HashMap<*const Method, Arc<Method>> = HashMap::new();
    for method in table.methods.values_mut() {
        let new = replaced
            .entry(Arc::as_ptr(method))
            .or_insert_with(|| {
                Arc::new(Method {
                    stats: stats_of(method),
                    ..Method::clone(method)
                })
            })
            .clone();
        *method = new;
    }
}
