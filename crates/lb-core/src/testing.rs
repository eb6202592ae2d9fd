//! Test helpers for crates that build on lb-core, behind the `testing` feature.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A `tracing` subscriber that records every event at every level as a line of text (so that
/// an event allocates): installed around code that must neither log nor allocate (the select
/// path), it makes a log line on that path visible to a counting allocator and to the test.
///
/// ```
/// use lb_core::testing::RecordingSubscriber;
///
/// let subscriber = RecordingSubscriber::default();
/// let record = subscriber.record();
/// tracing::subscriber::with_default(subscriber, || tracing::trace!(backend = 7, "an event"));
/// assert_eq!(record.lines(), ["TRACE an event backend=7"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RecordingSubscriber {
    record: Recorded,
    next_span: Arc<AtomicU64>,
}

/// The lines a [`RecordingSubscriber`] recorded; clones share them.
#[derive(Clone, Debug, Default)]
pub struct Recorded(Arc<Mutex<Vec<String>>>);

impl Recorded {
    /// Every line recorded so far.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

impl RecordingSubscriber {
    /// A handle on what this subscriber records.
    pub fn record(&self) -> Recorded {
        self.record.clone()
    }
}

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for RecordingSubscriber {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(
            self.next_span
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1),
        )
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        self.record
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
