//! hyper's timer for HTTP/1 connections, with one tokio timer per connection instead of one
//! per request.
//!
//! hyper arms the head deadline (`header_read_timeout`: slowloris, and idle keep-alive
//! connections) each time it starts reading a request head, polls it while the head is
//! incomplete (always, since it starts before the head arrives) and drops it once the head is
//! parsed. With hyper-util's timer, that is a tokio sleep made, registered in the timer wheel
//! and cleared under the driver's lock for every request, a few percent of a small request's
//! CPU in the profiles.
//!
//! Here a connection's task keeps one tokio sleep in a task-local [`ConnectionTimer`], which
//! [`serve_with_head_timer`] installs. Deadlines only move later from one head to the next,
//! so the shared sleep stays armed for an earlier deadline; when it fires, a head still being
//! read re-arms it for its own deadline, once. Per request that leaves a small allocation
//! (hyper boxes every sleep) and a poll of an already registered sleep. A sleep polled outside
//! a connection's task falls back to a tokio sleep of its own.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

tokio::task_local! {
    static CONNECTION_TIMER: RefCell<ConnectionTimer>;
}

/// Runs `connection` (one HTTP/1 connection's future) with its own [`ConnectionTimer`].
pub async fn serve_with_head_timer<F: Future>(connection: F) -> F::Output {
    CONNECTION_TIMER.scope(RefCell::new(ConnectionTimer::default()), connection).await
}

/// See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeadTimer;

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeadSleep { deadline, own: None })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HeadSleep>() {
            Some(mut head) => {
                head.deadline = deadline;
                if let Some(own) = head.own.as_mut() {
                    own.as_mut().reset(deadline.into());
                }
            }
            None => *sleep = self.sleep_until(deadline),
        }
    }
}

/// One deadline: the connection's shared sleep does the waiting.
pub struct HeadSleep {
    deadline: Instant,
    /// The sleep of a deadline polled outside a connection's task.
    own: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        if let Ok(poll) = CONNECTION_TIMER.try_with(|timer| timer.borrow_mut().poll(deadline, cx)) {
            return poll;
        }
        self.own.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into()))).as_mut().poll(cx)
    }
}

impl Sleep for HeadSleep {}

/// A connection's one tokio sleep, armed for the earliest deadline polled since it last fired.
#[derive(Debug, Default)]
pub struct ConnectionTimer {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ConnectionTimer {
    /// Ready once `deadline` has passed; else the task is woken by then (maybe sooner).
    fn poll(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = tokio::time::Instant::from_std(deadline);
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if deadline < sleep.deadline() {
            sleep.as_mut().reset(deadline);
        }
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // Fired: for this deadline, or for an earlier head's.
            if tokio::time::Instant::now() >= deadline {
                return Poll::Ready(());
            }
            sleep.as_mut().reset(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test]
    async fn a_sleep_ends_at_its_deadline_in_a_connection_or_alone() {
        let start = Instant::now();
        HeadTimer.sleep(ms(50)).await;
        assert!(start.elapsed() >= ms(50), "alone");
        let start = Instant::now();
        serve_with_head_timer(HeadTimer.sleep(ms(50))).await;
        assert!(start.elapsed() >= ms(50), "in a connection");
    }

    #[tokio::test]
    async fn a_later_deadline_outlives_the_shared_sleep_armed_for_an_earlier_one() {
        serve_with_head_timer(async {
            // The first head's deadline arms the shared sleep; the head arrives (dropped).
            let mut first = HeadTimer.sleep(ms(50));
            assert!(futures_util::poll!(first.as_mut()).is_pending());
            drop(first);
            // The next head's deadline is later: the shared sleep fires at 50 ms and must be
            // re-armed, not end the second wait early.
            let start = Instant::now();
            HeadTimer.sleep(ms(200)).await;
            assert!(start.elapsed() >= ms(200), "ended after {:?}", start.elapsed());
            // An earlier deadline than the armed one moves the shared sleep forward.
            let mut late = HeadTimer.sleep(ms(5_000));
            assert!(futures_util::poll!(late.as_mut()).is_pending());
            let start = Instant::now();
            HeadTimer.sleep(ms(50)).await;
            assert!(start.elapsed() < ms(4_000), "waited for the later deadline");
        })
        .await;
    }

    #[tokio::test]
    async fn a_reset_moves_a_deadline() {
        let mut sleep = HeadTimer.sleep(ms(10));
        HeadTimer.reset(&mut sleep, Instant::now() + ms(5_000));
        assert!(futures_util::poll!(sleep.as_mut()).is_pending(), "the deadline moved out");
        let start = Instant::now();
        HeadTimer.reset(&mut sleep, start + ms(100));
        sleep.await;
        let waited = start.elapsed();
        assert!(waited >= ms(100) && waited < ms(4_000), "{waited:?}");
    }

    #[test]
    fn an_unpolled_sleep_needs_no_runtime() {
        // A head that arrives whole drops its deadline unpolled: that must not touch tokio
        // (this test has no runtime; a tokio sleep would panic here).
        let mut sleep = HeadTimer.sleep(ms(1_000));
        HeadTimer.reset(&mut sleep, Instant::now());
        drop(sleep);
    }
}
