//! The merged view of a Service's EndpointSlices, kept up to date by watch events.

use std::collections::BTreeMap;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::Event;
use lb_core::Enablement;

use crate::error::Error;
use crate::limits::Limits;
use crate::port::Port;
use crate::slice::{Entry, entries};

/// The most endpoints in one slice, as the API server validates it (`maxEndpoints`).
pub(crate) const MAX_ENDPOINTS: usize = 1_000;
/// The most addresses of one endpoint, as the API server validates it (`maxAddresses`).
pub(crate) const MAX_ADDRESSES: usize = 100;

/// Why the store refused a slice. The store is left as it was, less any re-list in progress,
/// which is dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A new slice name past [`Limits::max_slices`].
    Slices {
        /// The slices there would be with it: the limit plus one.
        count: usize,
        limit: usize,
        /// `"list"` for a list in progress, `"watch"` for a watch event.
        during: &'static str,
    },
    /// A slice whose backends take the total past [`Limits::max_backends`].
    Backends {
        /// The backends there would be with it.
        count: usize,
        limit: usize,
        during: &'static str,
    },
    /// A slice larger than the API server's validation allows ([`MAX_ENDPOINTS`],
    /// [`MAX_ADDRESSES`]).
    SliceTooLarge {
        slice: String,
        /// `"endpoints"` or `"addresses in one endpoint"`.
        what: &'static str,
        count: usize,
        limit: usize,
        during: &'static str,
    },
}

impl Refused {
    /// The public error, naming the Service.
    pub(crate) fn into_error(self, namespace: String, service: String) -> Error {
        match self {
            Refused::Slices {
                count,
                limit,
                during,
            } => Error::TooManySlices {
                namespace,
                service,
                limit,
                count,
                during,
            },
            Refused::Backends {
                count,
                limit,
                during,
            } => Error::TooManyBackends {
                namespace,
                service,
                limit,
                count,
                during,
            },
            Refused::SliceTooLarge {
                slice,
                what,
                count,
                limit,
                during,
            } => Error::SliceTooLarge {
                namespace,
                service,
                slice,
                what,
                count,
                limit,
                during,
            },
        }
    }
}

/// Slices by name, and the number of backends they hold together.
#[derive(Debug, Default)]
struct Slices {
    by_name: BTreeMap<String, Vec<Entry>>,
    /// The sum of the lengths of `by_name`'s values.
    backends: usize,
}

impl Slices {
    /// Adds or replaces `slice` (named `name`) within `limits`; refused, `self` is unchanged.
    ///
    /// The checks that need no allocation come first: the slice's size as the API validates it,
    /// then the slice count. The backends are then made (at most [`MAX_ENDPOINTS`] ×
    /// [`MAX_ADDRESSES`] of them) and counted.
    fn put(
        &mut self,
        name: String,
        slice: &EndpointSlice,
        convert: impl FnOnce(&EndpointSlice) -> Vec<Entry>,
        limits: &Limits,
        during: &'static str,
    ) -> Result<(), Refused> {
        check_size(slice, &name, during)?;
        let held = self.by_name.get(&name).map(Vec::len);
        if held.is_none() && self.by_name.len() >= limits.max_slices {
            return Err(Refused::Slices {
                count: self.by_name.len().saturating_add(1),
                limit: limits.max_slices,
                during,
            });
        }
        let entries = convert(slice);
        let count = self
            .backends
            .saturating_sub(held.unwrap_or(0))
            .saturating_add(entries.len());
        if count > limits.max_backends {
            return Err(Refused::Backends {
                count,
                limit: limits.max_backends,
                during,
            });
        }
        self.backends = count;
        self.by_name.insert(name, entries);
        Ok(())
    }

    fn remove(&mut self, name: &str) {
        if let Some(old) = self.by_name.remove(name) {
            self.backends = self.backends.saturating_sub(old.len());
        }
    }
}

/// The entries of every slice of one Service, by slice name, and a re-list in progress, each
/// within [`Limits::max_slices`] and [`Limits::max_backends`].
#[derive(Debug)]
pub(crate) struct Store {
    service: String,
    port: Port,
    limits: Limits,
    slices: Slices,
    /// The slices of a list in progress; `None` outside a list (or after one was dropped past
    /// a limit). They replace `slices` only when the list completes, so a re-list never
    /// publishes half a set.
    relist: Option<Slices>,
    listed: bool,
}

impl Store {
    pub(crate) fn new(service: String, port: Port, limits: Limits) -> Self {
        Store {
            service,
            port,
            limits,
            slices: Slices::default(),
            relist: None,
            listed: false,
        }
    }

    /// Applies one watcher event. Returns `true` when the merged view may have changed and is
    /// complete (so it should be published).
    ///
    /// A slice that would take the view, or the list in progress, past a limit (a new name
    /// past `max_slices`, backends past `max_backends`), or that is larger than the API server
    /// allows, is refused: the view stays as it was (the last good set) and the list in
    /// progress is dropped, so that nothing partial or truncated is ever published. Only a new
    /// list can recover from it (a refused watch event cannot be replayed past).
    pub(crate) fn apply(&mut self, event: Event<EndpointSlice>) -> Result<bool, Refused> {
        let (service, port) = (&self.service, &self.port);
        let convert = |slice: &EndpointSlice| entries(slice, service, port);
        Ok(match event {
            Event::Init => {
                self.relist = Some(Slices::default());
                false
            }
            // Pages of a list with no `Init` before them belong to a list that was dropped (past
            // a limit): they are ignored, since what came before them is lost. kube's watcher
            // starts every list with `Init`, and the watch task starts a new watcher after a
            // refused slice, so this is a second line of defence.
            Event::InitApply(slice) => {
                let Some(relist) = &mut self.relist else {
                    return Ok(false);
                };
                if let Err(refused) =
                    relist.put(name(&slice), &slice, convert, &self.limits, "list")
                {
                    self.relist = None;
                    return Err(refused);
                }
                false
            }
            Event::InitDone => {
                let Some(relist) = self.relist.take() else {
                    return Ok(false);
                };
                self.slices = relist;
                self.listed = true;
                true
            }
            Event::Apply(slice) => {
                self.slices
                    .put(name(&slice), &slice, convert, &self.limits, "watch")?;
                self.listed
            }
            Event::Delete(slice) => {
                self.slices.remove(&name(&slice));
                self.listed
            }
        })
    }

    /// Whether a list has completed since the store was made.
    pub(crate) fn is_listed(&self) -> bool {
        self.listed
    }

    /// How many slices the current view is made of.
    pub(crate) fn slice_count(&self) -> usize {
        self.slices.by_name.len()
    }

    /// How many backends the current view's slices hold, before an address in several slices
    /// is merged.
    #[cfg(test)]
    pub(crate) fn backend_count(&self) -> usize {
        self.slices.backends
    }

    /// Every backend of every slice, sorted by address. An address in several slices (as happens
    /// for a moment while the controller moves an endpoint between slices) appears once, with
    /// the most available of its states (enabled, then draining, then disabled) and the
    /// metadata from that slice; on a tie, the slice whose name sorts first wins.
    pub(crate) fn merged(&self) -> Vec<Entry> {
        let mut all: Vec<Entry> = self.slices.by_name.values().flatten().cloned().collect();
        // Stable: among equal (address, rank), the slice order (by name) is kept.
        all.sort_by_key(|e| (e.addr, rank(e.enablement)));
        all.dedup_by_key(|e| e.addr);
        all
    }
}

fn name(slice: &EndpointSlice) -> String {
    slice.metadata.name.clone().unwrap_or_default()
}

/// Refuses a slice larger than the API server's validation allows: more than [`MAX_ENDPOINTS`]
/// endpoints, or an endpoint with more than [`MAX_ADDRESSES`] addresses.
fn check_size(slice: &EndpointSlice, name: &str, during: &'static str) -> Result<(), Refused> {
    let too_large = |what, count, limit| Refused::SliceTooLarge {
        slice: name.to_owned(),
        what,
        count,
        limit,
        during,
    };
    if slice.endpoints.len() > MAX_ENDPOINTS {
        return Err(too_large("endpoints", slice.endpoints.len(), MAX_ENDPOINTS));
    }
    match slice
        .endpoints
        .iter()
        .map(|e| e.addresses.len())
        .find(|n| *n > MAX_ADDRESSES)
    {
        Some(count) => Err(too_large("addresses in one endpoint", count, MAX_ADDRESSES)),
        None => Ok(()),
    }
}

fn rank(enablement: Enablement) -> u8 {
    match enablement {
        Enablement::Enabled => 0,
        Enablement::Draining => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests;
