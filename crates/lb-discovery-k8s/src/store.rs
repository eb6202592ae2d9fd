//! The merged view of a Service's EndpointSlices, kept up to date by watch events.

use std::collections::BTreeMap;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::Event;
use lb_core::Enablement;

use crate::port::Port;
use crate::slice::{Entry, entries};

/// A slice that would take the store past its limit
/// ([`Limits::max_slices`](crate::Limits::max_slices)); the store is left as it was, less any
/// re-list in progress, which is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooManySlices {
    /// The slices there would be with it: the limit plus one.
    pub(crate) count: usize,
    /// `"list"` for a list in progress, `"watch"` for a watch event.
    pub(crate) during: &'static str,
}

/// The entries of every slice of one Service, by slice name, and a re-list in progress, each
/// holding at most `max_slices` slices.
#[derive(Debug)]
pub(crate) struct Store {
    service: String,
    port: Port,
    max_slices: usize,
    slices: BTreeMap<String, Vec<Entry>>,
    /// The slices of a list in progress; `None` outside a list (or after one was dropped past
    /// the limit). They replace `slices` only when the list completes, so a re-list never
    /// publishes half a set.
    relist: Option<BTreeMap<String, Vec<Entry>>>,
    listed: bool,
}

impl Store {
    pub(crate) fn new(service: String, port: Port, max_slices: usize) -> Self {
        Store {
            service,
            port,
            max_slices,
            slices: BTreeMap::new(),
            relist: None,
            listed: false,
        }
    }

    /// Applies one watcher event. Returns `true` when the merged view may have changed and is
    /// complete (so it should be published).
    ///
    /// A slice name that would take the view, or the list in progress, past `max_slices` is
    /// refused: the view stays as it was (the last good set) and the list in progress is
    /// dropped, so that nothing partial or truncated is ever published. Only a new list can
    /// recover from it (a refused watch event cannot be replayed past).
    pub(crate) fn apply(&mut self, event: Event<EndpointSlice>) -> Result<bool, TooManySlices> {
        Ok(match event {
            Event::Init => {
                self.relist = Some(BTreeMap::new());
                false
            }
            // Pages of a list with no `Init` before them belong to a list that was dropped (past
            // the limit): they are ignored, since what came before them is lost. kube's watcher
            // starts every list with `Init`, and the watch task starts a new watcher after a
            // refused slice, so this is a second line of defence.
            Event::InitApply(slice) => {
                let Some(relist) = &mut self.relist else {
                    return Ok(false);
                };
                let name = name(&slice);
                if let Err(full) = admit(relist, &name, self.max_slices, "list") {
                    self.relist = None;
                    return Err(full);
                }
                relist.insert(name, entries(&slice, &self.service, &self.port));
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
                let name = name(&slice);
                admit(&self.slices, &name, self.max_slices, "watch")?;
                let entries = entries(&slice, &self.service, &self.port);
                self.slices.insert(name, entries);
                self.listed
            }
            Event::Delete(slice) => {
                let name = slice.metadata.name.unwrap_or_default();
                self.slices.remove(&name);
                self.listed
            }
        })
    }

    /// The most slices held ([`Limits::max_slices`](crate::Limits::max_slices)).
    pub(crate) fn max_slices(&self) -> usize {
        self.max_slices
    }

    /// Whether a list has completed since the store was made.
    pub(crate) fn is_listed(&self) -> bool {
        self.listed
    }

    /// How many slices the current view is made of.
    pub(crate) fn slice_count(&self) -> usize {
        self.slices.len()
    }

    /// Every backend of every slice, sorted by address. An address in several slices (as happens
    /// for a moment while the controller moves an endpoint between slices) appears once, with
    /// the most available of its states (enabled, then draining, then disabled) and the
    /// metadata from that slice; on a tie, the slice whose name sorts first wins.
    pub(crate) fn merged(&self) -> Vec<Entry> {
        let mut all: Vec<Entry> = self.slices.values().flatten().cloned().collect();
        // Stable: among equal (address, rank), the slice order (by name) is kept.
        all.sort_by_key(|e| (e.addr, rank(e.enablement)));
        all.dedup_by_key(|e| e.addr);
        all
    }
}

fn name(slice: &EndpointSlice) -> String {
    slice.metadata.name.clone().unwrap_or_default()
}

/// Whether `slices` may take the slice `name`: a slice it holds is replaced, a new one must fit
/// under `max`.
fn admit(
    slices: &BTreeMap<String, Vec<Entry>>,
    name: &str,
    max: usize,
    during: &'static str,
) -> Result<(), TooManySlices> {
    if slices.len() < max || slices.contains_key(name) {
        Ok(())
    } else {
        Err(TooManySlices {
            count: slices.len().saturating_add(1),
            during,
        })
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
