//! The merged view of a Service's EndpointSlices, kept up to date by watch events.

use std::collections::BTreeMap;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::Event;
use lb_core::Enablement;

use crate::port::Port;
use crate::slice::{Entry, entries};

/// The entries of every slice of one Service, by slice name, and a re-list in progress.
#[derive(Debug)]
pub(crate) struct Store {
    service: String,
    port: Port,
    slices: BTreeMap<String, Vec<Entry>>,
    /// The slices of a list in progress; `None` outside a list. They replace `slices` only when
    /// the list completes, so a re-list never publishes half a set.
    relist: Option<BTreeMap<String, Vec<Entry>>>,
    listed: bool,
}

impl Store {
    pub(crate) fn new(service: String, port: Port) -> Self {
        Store {
            service,
            port,
            slices: BTreeMap::new(),
            relist: None,
            listed: false,
        }
    }

    /// Applies one watcher event. Returns `true` when the merged view may have changed and is
    /// complete (so it should be published).
    pub(crate) fn apply(&mut self, event: Event<EndpointSlice>) -> bool {
        match event {
            Event::Init => {
                self.relist = Some(BTreeMap::new());
                false
            }
            Event::InitApply(slice) => {
                let (name, entries) = self.convert(&slice);
                self.relist.get_or_insert_default().insert(name, entries);
                false
            }
            Event::InitDone => {
                self.slices = self.relist.take().unwrap_or_default();
                self.listed = true;
                true
            }
            Event::Apply(slice) => {
                let (name, entries) = self.convert(&slice);
                self.slices.insert(name, entries);
                self.listed
            }
            Event::Delete(slice) => {
                let name = slice.metadata.name.unwrap_or_default();
                self.slices.remove(&name);
                self.listed
            }
        }
    }

    fn convert(&self, slice: &EndpointSlice) -> (String, Vec<Entry>) {
        let name = slice.metadata.name.clone().unwrap_or_default();
        (name, entries(slice, &self.service, &self.port))
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

fn rank(enablement: Enablement) -> u8 {
    match enablement {
        Enablement::Enabled => 0,
        Enablement::Draining => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests;
