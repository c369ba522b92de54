//! Working state kept per thread across the jobs of one parallel loop.
//!
//! rayon's `map_init` / `for_each_init` make a new value for every job they split off, and a
//! loop of one block a job (`with_max_len(1)`, so a thread that runs out of work can always
//! take a block) would build a sketcher and grow its buffers again for every block: hundreds
//! of times a run, each growth a copy into freshly faulted pages. [`PerThread`] keeps one
//! value per worker thread instead, made on first use.

use std::sync::Mutex;

/// One value per thread of the current rayon pool, made on first use.
pub(crate) struct PerThread<T> {
    slots: Vec<Mutex<Option<T>>>,
}

impl<T> PerThread<T> {
    /// Empty slots, one per thread of the current pool.
    pub(crate) fn new() -> Self {
        PerThread {
            slots: (0..rayon::current_num_threads().max(1))
                .map(|_| Mutex::new(None))
                .collect(),
        }
    }

    /// Run `f` on this thread's value (made by `init` the first time). A thread that finds
    /// its slot busy (it re-entered from a job it stole inside `f`) or that is not one of the
    /// pool's gets a value of its own for the call, so this never blocks. Results must not
    /// depend on which value `f` is given: the values are working state, not data.
    pub(crate) fn with<R>(&self, init: impl FnOnce() -> T, f: impl FnOnce(&mut T) -> R) -> R {
        let slot = rayon::current_thread_index()
            .and_then(|i| self.slots.get(i))
            .and_then(|s| s.try_lock().ok());
        match slot {
            Some(mut value) => f(value.get_or_insert_with(init)),
            None => f(&mut init()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_value_per_thread_across_jobs() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let made = AtomicUsize::new(0);
        let total: usize = pool.install(|| {
            let per = PerThread::new();
            (0..500usize)
                .into_par_iter()
                .with_max_len(1)
                .map(|i| {
                    per.with(
                        || {
                            made.fetch_add(1, Ordering::Relaxed);
                            Vec::<usize>::new()
                        },
                        |v| {
                            v.clear();
                            v.push(i);
                            v[0]
                        },
                    )
                })
                .sum()
        });
        assert_eq!(total, (0..500).sum::<usize>());
        // map_init would have made one per job: 500.
        let made = made.load(Ordering::Relaxed);
        assert!((1..=2).contains(&made), "{made} values made");
    }

    #[test]
    fn outside_a_pool_gets_its_own_value() {
        let per: PerThread<u32> = PerThread::new();
        let seen = std::thread::spawn(move || per.with(|| 7, |v| *v))
            .join()
            .unwrap();
        assert_eq!(seen, 7);
    }
}
