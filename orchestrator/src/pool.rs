//! The bounded fan-out: runs tasks in waves, at most `jobs` at once, and
//! stops starting new ones when the failure budget is spent. It knows
//! nothing about Terraform: a task is any future whose output can say
//! whether it failed.

use std::future::Future;

use futures::stream::{FuturesUnordered, StreamExt};

/// How many tasks run at once and when to stop starting new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    pub jobs: usize,
    /// Stop starting tasks once this many failed (`None`: never).
    pub max_failures: Option<usize>,
    /// Stop starting tasks after the first failure.
    pub fail_fast: bool,
}

impl PoolSettings {
    fn budget(&self) -> Option<usize> {
        match (self.fail_fast, self.max_failures) {
            (true, Some(n)) => Some(n.min(1)),
            (true, None) => Some(1),
            (false, n) => n,
        }
    }
}

/// One rollout wave: its items start only when every earlier wave succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave<T> {
    pub name: String,
    pub items: Vec<T>,
}

/// A task's result tells the pool whether it counts against the budget.
pub trait TaskOutcome {
    fn failed(&self) -> bool;
}

/// Why an item never started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// The failure budget (or `--fail-fast`) was spent.
    BudgetSpent { failures: usize },
    /// An earlier wave had a failure.
    EarlierWaveFailed { wave: String },
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skipped::BudgetSpent { failures } => {
                write!(f, "not started: failure budget spent ({failures} failed)")
            }
            Skipped::EarlierWaveFailed { wave } => {
                write!(f, "not started: wave {wave:?} had failures")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot<R> {
    Done(R),
    Skipped(Skipped),
}

/// Runs `task` for every item, wave after wave. `on_done` sees each result
/// as it arrives (progress, incremental reports). Results come back in
/// completion order, skipped items last.
pub async fn run<T, R, F, Fut>(
    waves: Vec<Wave<T>>,
    settings: PoolSettings,
    mut task: F,
    mut on_done: impl FnMut(&T, &Slot<R>),
) -> Vec<(T, Slot<R>)>
where
    T: Clone,
    R: TaskOutcome,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = R>,
{
    let jobs = settings.jobs.max(1);
    let budget = settings.budget();
    let mut failures = 0usize;
    let mut results = Vec::new();
    let mut skipped: Vec<(T, Slot<R>)> = Vec::new();
    let mut failed_wave: Option<String> = None;

    for wave in waves {
        if let Some(name) = &failed_wave {
            for item in wave.items {
                skip(
                    &mut skipped,
                    &mut on_done,
                    item,
                    Skipped::EarlierWaveFailed { wave: name.clone() },
                );
            }
            continue;
        }
        let mut pending = wave.items.into_iter();
        let mut running = FuturesUnordered::new();
        let mut wave_failed = false;
        loop {
            while running.len() < jobs && budget.is_none_or(|b| failures < b) {
                let Some(item) = pending.next() else { break };
                let future = task(item.clone());
                running.push(async move { (item, future.await) });
            }
            let Some((item, result)) = running.next().await else {
                break;
            };
            if result.failed() {
                failures += 1;
                wave_failed = true;
            }
            let slot = Slot::Done(result);
            on_done(&item, &slot);
            results.push((item, slot));
        }
        for item in pending {
            skip(
                &mut skipped,
                &mut on_done,
                item,
                Skipped::BudgetSpent { failures },
            );
        }
        if wave_failed {
            failed_wave = Some(wave.name);
        }
    }
    results.extend(skipped);
    results
}

fn skip<T, R>(
    skipped: &mut Vec<(T, Slot<R>)>,
    on_done: &mut impl FnMut(&T, &Slot<R>),
    item: T,
    why: Skipped,
) {
    let slot = Slot::Skipped(why);
    on_done(&item, &slot);
    skipped.push((item, slot));
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeSet;
    use std::rc::Rc;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Ran {
        ok: bool,
    }

    impl TaskOutcome for Ran {
        fn failed(&self) -> bool {
            !self.ok
        }
    }

    fn wave(name: &str, items: &[&str]) -> Wave<String> {
        Wave {
            name: name.into(),
            items: items.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn settings(jobs: usize, max_failures: Option<usize>, fail_fast: bool) -> PoolSettings {
        PoolSettings {
            jobs,
            max_failures,
            fail_fast,
        }
    }

    /// Runs the pool where items named `bad*` fail; each task yields to the
    /// runtime so tasks overlap. Returns (results, peak concurrency, started).
    async fn drive(
        waves: Vec<Wave<String>>,
        settings: PoolSettings,
    ) -> (Vec<(String, Slot<Ran>)>, usize, Vec<String>) {
        let running = Rc::new(RefCell::new(0usize));
        let peak = Rc::new(RefCell::new(0usize));
        let started = Rc::new(RefCell::new(Vec::new()));
        let results = run(
            waves,
            settings,
            |item: String| {
                let (running, peak, started) = (running.clone(), peak.clone(), started.clone());
                async move {
                    started.borrow_mut().push(item.clone());
                    *running.borrow_mut() += 1;
                    let now = *running.borrow();
                    let max = (*peak.borrow()).max(now);
                    *peak.borrow_mut() = max;
                    // Failing tasks finish first, so budget tests are deterministic.
                    let yields = if item.starts_with("bad") { 1 } else { 3 };
                    for _ in 0..yields {
                        tokio::task::yield_now().await;
                    }
                    *running.borrow_mut() -= 1;
                    Ran {
                        ok: !item.starts_with("bad"),
                    }
                }
            },
            |_, _| {},
        )
        .await;
        let peak = *peak.borrow();
        let started = started.borrow().clone();
        (results, peak, started)
    }

    fn names(results: &[(String, Slot<Ran>)], pred: impl Fn(&Slot<Ran>) -> bool) -> BTreeSet<&str> {
        results
            .iter()
            .filter(|(_, s)| pred(s))
            .map(|(i, _)| i.as_str())
            .collect()
    }

    #[tokio::test]
    async fn bounds_concurrency_and_runs_everything() {
        let items = ["a", "b", "c", "d", "e", "f", "g"];
        let (results, peak, _) = drive(vec![wave("all", &items)], settings(3, None, false)).await;
        assert_eq!(peak, 3);
        assert_eq!(names(&results, |s| matches!(s, Slot::Done(_))).len(), 7);
        let (_, peak, _) = drive(vec![wave("all", &items)], settings(1, None, false)).await;
        assert_eq!(peak, 1);
    }

    #[tokio::test]
    async fn failures_do_not_stop_others_without_a_budget() {
        let (results, _, _) = drive(
            vec![wave("all", &["a", "bad1", "b", "bad2", "c"])],
            settings(2, None, false),
        )
        .await;
        assert_eq!(
            names(&results, |s| matches!(s, Slot::Done(r) if r.failed())),
            BTreeSet::from(["bad1", "bad2"])
        );
        assert_eq!(
            names(&results, |s| matches!(s, Slot::Done(r) if !r.failed())).len(),
            3
        );
    }

    #[tokio::test]
    async fn a_spent_budget_stops_new_starts_but_running_ones_finish() {
        // jobs=2: bad1 and a run together; once bad1 fails (budget 1) nothing new starts,
        // but a (already running) finishes.
        let (results, _, started) = drive(
            vec![wave("all", &["bad1", "a", "b", "c", "d"])],
            settings(2, Some(1), false),
        )
        .await;
        assert_eq!(started, ["bad1", "a"]);
        assert_eq!(
            names(&results, |s| matches!(s, Slot::Done(_))),
            BTreeSet::from(["a", "bad1"])
        );
        let skipped = names(&results, |s| {
            matches!(s, Slot::Skipped(Skipped::BudgetSpent { failures: 1 }))
        });
        assert_eq!(skipped, BTreeSet::from(["b", "c", "d"]));
    }

    #[tokio::test]
    async fn fail_fast_is_a_budget_of_one() {
        let (results, _, started) = drive(
            vec![wave("all", &["a", "bad1", "b", "c"])],
            settings(1, Some(5), true),
        )
        .await;
        assert_eq!(started, ["a", "bad1"]);
        assert_eq!(
            names(&results, |s| matches!(s, Slot::Skipped(_))),
            BTreeSet::from(["b", "c"])
        );
    }

    #[tokio::test]
    async fn a_budget_of_two_tolerates_one_failure() {
        let (results, _, _) = drive(
            vec![wave("all", &["bad1", "a", "b", "c"])],
            settings(1, Some(2), false),
        )
        .await;
        assert!(names(&results, |s| matches!(s, Slot::Skipped(_))).is_empty());
    }

    #[tokio::test]
    async fn a_failed_wave_stops_later_waves() {
        let waves = vec![
            wave("canary", &["a", "bad1"]),
            wave("w2", &["b", "c"]),
            wave("rest", &["d"]),
        ];
        let (results, _, started) = drive(waves, settings(2, None, false)).await;
        assert_eq!(started, ["a", "bad1"]);
        let skipped = names(
            &results,
            |s| matches!(s, Slot::Skipped(Skipped::EarlierWaveFailed { wave }) if wave == "canary"),
        );
        assert_eq!(skipped, BTreeSet::from(["b", "c", "d"]));
    }

    #[tokio::test]
    async fn waves_run_in_order_when_they_succeed() {
        let waves = vec![
            wave("canary", &["a"]),
            wave("w2", &["b", "c"]),
            wave("rest", &["d"]),
        ];
        let (_, _, started) = drive(waves, settings(4, None, false)).await;
        assert_eq!(started[0], "a");
        assert_eq!(started[3], "d");
    }
}
