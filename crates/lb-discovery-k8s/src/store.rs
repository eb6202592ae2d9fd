//! A Service's EndpointSlices and their merged set, kept up to date by watch events within
//! the limits.

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::Event;
use lb_core::Change;

use crate::error::Error;
use crate::limits::Limits;
use crate::merged::{Merged, Slice, Slices};
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

/// Admits `slice` (named `name`) into `slices` within `limits`, or refuses it.
///
/// The checks that need no allocation come first: the slice's size as the API validates it,
/// then the slice count. The backends are then made (at most [`MAX_ENDPOINTS`] ×
/// [`MAX_ADDRESSES`] of them) and counted, less those of the slice it replaces.
fn admit(
    slices: &Slices,
    name: &str,
    slice: EndpointSlice,
    convert: impl FnOnce(EndpointSlice) -> Vec<Entry>,
    limits: &Limits,
    during: &'static str,
) -> Result<Slice, Refused> {
    check_size(&slice, name, during)?;
    let held = slices.held_by(name);
    if held.is_none() && slices.len() >= limits.max_slices {
        return Err(Refused::Slices {
            count: slices.len().saturating_add(1),
            limit: limits.max_slices,
            during,
        });
    }
    let entries = convert(slice);
    let count = slices
        .backends()
        .saturating_sub(held.unwrap_or(0))
        .saturating_add(entries.len());
    if count > limits.max_backends {
        return Err(Refused::Backends {
            count,
            limit: limits.max_backends,
            during,
        });
    }
    Ok(Slice::new(entries))
}

/// The slices of one Service and their merged set, kept by watch events, and a re-list in
/// progress, each within [`Limits::max_slices`] and [`Limits::max_backends`].
#[derive(Debug)]
pub(crate) struct Store {
    service: String,
    port: Port,
    limits: Limits,
    merged: Merged,
    /// The slices of a list in progress; `None` outside a list (or after one was dropped past
    /// a limit). They replace the view's slices only when the list completes, so a re-list
    /// never publishes half a set.
    relist: Option<Slices>,
    listed: bool,
}

impl Store {
    pub(crate) fn new(service: String, port: Port, limits: Limits) -> Self {
        Store {
            service,
            port,
            limits,
            merged: Merged::default(),
            relist: None,
            listed: false,
        }
    }

    /// Applies one watcher event. Returns the changes of the merged set when the view is
    /// complete (so they should be published, even when there are none), `None` otherwise.
    ///
    /// A slice's change costs what the change costs: only its addresses whose entry differs
    /// from before are looked at. A completed list is compared with the view it replaces in
    /// one pass.
    ///
    /// A slice that would take the view, or the list in progress, past a limit (a new name
    /// past `max_slices`, backends past `max_backends`), or that is larger than the API server
    /// allows, is refused: the view stays as it was (the last good set) and the list in
    /// progress is dropped, so that nothing partial or truncated is ever published. Only a new
    /// list can recover from it (a refused watch event cannot be replayed past).
    pub(crate) fn apply(
        &mut self,
        event: Event<EndpointSlice>,
    ) -> Result<Option<Vec<Change>>, Refused> {
        let (service, port) = (&self.service, &self.port);
        let convert = |slice: EndpointSlice| entries(slice, service, port);
        let mut changes = Vec::new();
        match event {
            Event::Init => {
                self.relist = Some(Slices::default());
                return Ok(None);
            }
            // Pages of a list with no `Init` before them belong to a list that was dropped (past
            // a limit): they are ignored, since what came before them is lost. kube's watcher
            // starts every list with `Init`, and the watch task starts a new watcher after a
            // refused slice, so this is a second line of defence.
            Event::InitApply(slice) => {
                let Some(relist) = &mut self.relist else {
                    return Ok(None);
                };
                let name = name(&slice);
                match admit(relist, &name, slice, convert, &self.limits, "list") {
                    Ok(admitted) => relist.insert(name.into(), admitted),
                    Err(refused) => {
                        self.relist = None;
                        return Err(refused);
                    }
                }
                return Ok(None);
            }
            Event::InitDone => {
                let Some(relist) = self.relist.take() else {
                    return Ok(None);
                };
                if !self.listed {
                    // Nothing was published before the first list: every backend is new to
                    // whoever reads the changes, whatever events came before.
                    self.merged = Merged::default();
                }
                self.merged.replace(relist, &mut changes);
                self.listed = true;
            }
            Event::Apply(slice) => {
                let name = name(&slice);
                let admitted = admit(
                    self.merged.slices(),
                    &name,
                    slice,
                    convert,
                    &self.limits,
                    "watch",
                )?;
                self.merged.put(name.into(), admitted, &mut changes);
            }
            Event::Delete(slice) => self.merged.remove(&name(&slice), &mut changes),
        }
        Ok(self.listed.then_some(changes))
    }

    /// Whether a list has completed since the store was made.
    pub(crate) fn is_listed(&self) -> bool {
        self.listed
    }

    /// How many slices the current view is made of.
    pub(crate) fn slice_count(&self) -> usize {
        self.merged.slices().len()
    }

    /// How many backends the current view's slices hold, before an address in several slices
    /// is merged.
    #[cfg(test)]
    pub(crate) fn backend_count(&self) -> usize {
        self.merged.slices().backends()
    }

    /// The merged set, sorted by address.
    #[cfg(test)]
    pub(crate) fn merged(&self) -> Vec<Entry> {
        self.merged.winners()
    }

    /// The merged set computed from scratch (see [`Merged::recompute`]).
    #[cfg(feature = "testing")]
    pub(crate) fn recompute(&self) -> Vec<Entry> {
        self.merged.recompute()
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

#[cfg(test)]
mod tests;
