//! hyper's timer, with sleeps that reach tokio's timer wheel only when first polled.
//!
//! hyper arms the head deadline (slowloris, `header_read_timeout`) for every request head it
//! starts parsing, and drops it once the head is parsed. Nearly every head arrives whole in
//! one read, so hyper never polls that sleep; with hyper-util's timer each one still cost a
//! boxed tokio `Sleep` made and torn down (its runtime handle cloned, its timer-wheel entry
//! cleared under the driver's lock): a few percent of a small request's CPU, measured with the
//! deadline on and off. A [`LazySleep`] holds only its deadline until hyper polls it, which
//! happens when a head is still incomplete after a read: then the tokio sleep is made, and
//! the deadline is kept exactly as before.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeadTimer;

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(LazySleep { deadline, sleep: None })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<LazySleep>() {
            Some(lazy) => lazy.reset(deadline),
            None => *sleep = self.sleep_until(deadline),
        }
    }
}

pin_project_lite::pin_project! {
    /// A deadline that becomes a tokio sleep when first polled.
    pub struct LazySleep {
        deadline: Instant,
        #[pin]
        sleep: Option<tokio::time::Sleep>,
    }
}

impl LazySleep {
    fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let mut this = self.project();
        *this.deadline = deadline;
        if let Some(sleep) = this.sleep.as_mut().as_pin_mut() {
            sleep.reset(deadline.into());
        }
    }
}

impl Future for LazySleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if this.sleep.is_none() {
            this.sleep.set(Some(tokio::time::sleep_until((*this.deadline).into())));
        }
        match this.sleep.as_pin_mut() {
            Some(sleep) => sleep.poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl Sleep for LazySleep {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sleep_ends_at_its_deadline_and_a_reset_moves_it() {
        let timer = HeadTimer;
        let ms = Duration::from_millis;
        let start = Instant::now();
        timer.sleep(ms(50)).await;
        assert!(start.elapsed() >= ms(50));

        // Reset before the first poll, and again once the tokio sleep exists.
        let mut sleep = timer.sleep(ms(10));
        timer.reset(&mut sleep, Instant::now() + ms(5_000));
        assert!(futures_util::poll!(sleep.as_mut()).is_pending(), "the deadline moved out");
        let start = Instant::now();
        timer.reset(&mut sleep, start + ms(100));
        sleep.await;
        let waited = start.elapsed();
        assert!(waited >= ms(100) && waited < ms(4_000), "{waited:?}");
    }

    #[test]
    fn an_unpolled_sleep_needs_no_runtime() {
        // hyper arms one per request head and usually drops it unpolled: that must not touch
        // tokio at all (this test has no runtime; a tokio sleep would panic here).
        let mut sleep = HeadTimer.sleep(Duration::from_secs(1));
        HeadTimer.reset(&mut sleep, Instant::now());
        drop(sleep);
    }
}
