//! [`Generations`]: a stream of the sets a load balancer publishes, starting with the current one.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio_stream::wrappers::WatchStream;

use super::service::Mark;
use crate::backends::CurrentSet;
use crate::load_balancer::LoadBalancer;
use crate::selection::BackendSelection;
use crate::set::BackendSet;

/// The backend sets a load balancer publishes, as a [`Stream`]: first the current one, then each
/// newer one (from [`LoadBalancer::generations`]).
///
/// A consumer slower than the updates sees the latest set, not every one in between (each set
/// carries its [`generation`](BackendSet::generation), so a gap shows); it never sees a set
/// twice, nor an older set after a newer one. The stream ends when the load balancer is dropped.
pub struct Generations {
    marks: WatchStream<Mark>,
    current: Arc<dyn CurrentSet>,
    last: Option<u64>,
}

impl<S: BackendSelection> LoadBalancer<S> {
    /// A stream of the sets this load balancer publishes, starting with the current one.
    pub fn generations(&self) -> Generations {
        Generations {
            marks: WatchStream::new(self.published.subscribe()),
            current: Arc::clone(&self.cell) as Arc<dyn CurrentSet>,
            last: None,
        }
    }
}

impl Generations {
    /// The next set; `None` once the load balancer is gone.
    pub async fn next(&mut self) -> Option<Arc<BackendSet>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for Generations {
    type Item = Arc<BackendSet>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Arc<BackendSet>>> {
        loop {
            match Pin::new(&mut self.marks).poll_next(cx) {
                Poll::Ready(Some(_)) => {
                    // The mark only says that something was published: the set itself is read
                    // from the snapshot, which may already be newer than the mark.
                    let set = self.current.current();
                    if self.last.is_some_and(|last| set.generation() <= last) {
                        continue;
                    }
                    self.last = Some(set.generation());
                    return Poll::Ready(Some(set));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl fmt::Debug for Generations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generations")
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}
