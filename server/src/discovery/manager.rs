//! The discovery [`Manager`]: runs one discoverer per distinct provider configuration, shares a provider between
//! jobs with identical configurations, merges groups per job and publishes the full set of every job on a `watch`
//! channel, at most once per update interval (5s upstream) and only when something changed.
//!
//! On reload ([`Manager::apply_config`]) providers whose configuration is unchanged keep running with the targets
//! they have; removed ones are cancelled and their targets dropped; new ones start.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{DiscovererOptions, DiscoveryConfigs, DiscoveryError, SdConfig, TargetGroup};

/// Every job's target groups, by job name. Every configured job has an entry, possibly empty.
pub type TargetSets = HashMap<String, Vec<TargetGroup>>;

/// How a [`Manager`] behaves.
#[derive(Clone, Debug)]
pub struct ManagerOptions {
    /// The manager's name in self-metrics (`scrape` or `notify`, as upstream).
    pub name: String,
    /// Least time between two published updates (upstream: 5s).
    pub update_interval: Duration,
    /// Passed to every discoverer (the `job` field is set per provider).
    pub discoverer: DiscovererOptions,
}

impl Default for ManagerOptions {
    fn default() -> ManagerOptions {
        ManagerOptions {
            name: "scrape".into(),
            update_interval: Duration::from_secs(5),
            discoverer: DiscovererOptions::default(),
        }
    }
}

/// A provider that could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot create service discovery {mechanism} for job {job:?}: {source}")]
pub struct ProviderFailure {
    /// The first job using the provider.
    pub job: String,
    /// The mechanism.
    pub mechanism: &'static str,
    /// Why.
    pub source: DiscoveryError,
}

#[derive(Debug)]
struct Provider {
    id: u64,
    /// `<mechanism>/<n>`, as upstream names providers.
    name: String,
    config: SdConfig,
    subs: BTreeSet<String>,
    groups: BTreeMap<String, TargetGroup>,
    cancel: CancellationToken,
}

#[derive(Debug, Default)]
struct State {
    providers: Vec<Provider>,
    jobs: BTreeSet<String>,
    next_id: u64,
}

#[derive(Debug)]
struct Inner {
    options: ManagerOptions,
    state: Mutex<State>,
    triggered: AtomicBool,
    tx: watch::Sender<TargetSets>,
    /// Cancels every provider when the manager is dropped or stopped.
    root: CancellationToken,
}

/// Runs the discoverers of all jobs and publishes their merged groups. Cheap to clone (a handle).
#[derive(Clone, Debug)]
pub struct Manager {
    inner: Arc<Inner>,
}

impl Manager {
    /// A manager with no jobs.
    pub fn new(options: ManagerOptions) -> Manager {
        let (tx, _) = watch::channel(TargetSets::new());
        Manager {
            inner: Arc::new(Inner {
                options,
                state: Mutex::new(State::default()),
                triggered: AtomicBool::new(false),
                tx,
                root: CancellationToken::new(),
            }),
        }
    }

    /// A receiver of the published target sets.
    pub fn subscribe(&self) -> watch::Receiver<TargetSets> {
        self.inner.tx.subscribe()
    }

    /// The current target sets, whether published yet or not.
    pub fn targets(&self) -> TargetSets {
        self.inner.snapshot(&self.inner.lock())
    }

    /// The names of the running providers (`static/0`, `file/1`, ...) with their jobs, for tests and status pages.
    pub fn providers(&self) -> Vec<(String, Vec<String>)> {
        self.inner
            .lock()
            .providers
            .iter()
            .map(|p| (p.name.clone(), p.subs.iter().cloned().collect()))
            .collect()
    }

    /// Replaces the jobs and their discovery configurations. Providers with a configuration already running keep
    /// running (and keep their targets); the others are cancelled or started. Providers that cannot be created are
    /// returned (and logged); the others run regardless. Must be called within a Tokio runtime.
    pub fn apply_config(&self, jobs: &BTreeMap<String, DiscoveryConfigs>) -> Vec<ProviderFailure> {
        let inner = &self.inner;
        let mut failures = Vec::new();
        let mut failed_configs = 0;
        let mut state = inner.lock();
        let mut next_subs: Vec<BTreeSet<String>> = vec![BTreeSet::new(); state.providers.len()];
        let mut new_providers: Vec<(SdConfig, BTreeSet<String>)> = Vec::new();
        for (job, configs) in jobs {
            for config in configs.providers() {
                if let Some(i) = state.providers.iter().position(|p| p.config == config) {
                    next_subs[i].insert(job.clone());
                } else if let Some((_, subs)) = new_providers.iter_mut().find(|(c, _)| *c == config) {
                    subs.insert(job.clone());
                } else {
                    new_providers.push((config, BTreeSet::from([job.clone()])));
                }
            }
        }
        // Stop providers no job uses any more.
        let old = std::mem::take(&mut state.providers);
        for (mut p, subs) in old.into_iter().zip(next_subs) {
            if subs.is_empty() {
                p.cancel.cancel();
            } else {
                p.subs = subs;
                state.providers.push(p);
            }
        }
        let mut counters: BTreeMap<&'static str, usize> = BTreeMap::new();
        for p in &state.providers {
            let n = counters.entry(p.config.mechanism()).or_default();
            *n = (*n).max(provider_index(&p.name) + 1);
        }
        for (config, subs) in new_providers {
            let job = subs.iter().next().cloned().unwrap_or_default();
            let mut options = inner.options.discoverer.clone();
            options.job = job.clone();
            let discoverer = match config.discoverer(&options) {
                Ok(d) => d,
                Err(source) => {
                    let failure = ProviderFailure {
                        job,
                        mechanism: config.mechanism(),
                        source,
                    };
                    tracing::error!(manager = %inner.options.name, "{failure}");
                    failed_configs += 1;
                    failures.push(failure);
                    continue;
                }
            };
            let n = counters.entry(config.mechanism()).or_default();
            let name = format!("{}/{}", config.mechanism(), n);
            *n += 1;
            let id = state.next_id;
            state.next_id += 1;
            let cancel = inner.root.child_token();
            let (tx, rx) = mpsc::channel(1);
            tokio::spawn(discoverer.run(cancel.clone(), tx));
            tokio::spawn(receive(Arc::downgrade(&self.inner), id, cancel.clone(), rx));
            state.providers.push(Provider {
                id,
                name,
                config,
                subs,
                groups: BTreeMap::new(),
                cancel,
            });
        }
        state.jobs = jobs.keys().cloned().collect();
        if let Some(m) = &inner.options.discoverer.metrics {
            m.set_failed_configs(&inner.options.name, failed_configs);
        }
        drop(state);
        inner.triggered.store(true, Ordering::SeqCst);
        failures
    }

    /// Publishes the target sets whenever they changed, at most once per update interval, until `cancel` fires;
    /// then stops every provider.
    pub async fn run(&self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.inner.options.update_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {
                    if self.inner.triggered.swap(false, Ordering::SeqCst) {
                        self.publish();
                    }
                }
            }
        }
        self.inner.root.cancel();
    }

    /// Publishes the current target sets now.
    pub fn publish(&self) {
        let sets = self.targets();
        if let Some(m) = &self.inner.options.discoverer.metrics {
            m.updates(&self.inner.options.name);
            for (job, groups) in &sets {
                let n: usize = groups.iter().map(|g| g.targets.len()).sum();
                m.set_discovered(&self.inner.options.name, job, n);
            }
        }
        self.inner.tx.send_replace(sets);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.root.cancel();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the state itself stays consistent between statements.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn snapshot(&self, state: &State) -> TargetSets {
        let mut sets: TargetSets = state.jobs.iter().map(|j| (j.clone(), Vec::new())).collect();
        for p in &state.providers {
            for job in &p.subs {
                if let Some(groups) = sets.get_mut(job) {
                    groups.extend(p.groups.values().cloned());
                }
            }
        }
        sets
    }

    fn update(&self, id: u64, groups: Vec<TargetGroup>) {
        let mut state = self.lock();
        let Some(p) = state.providers.iter_mut().find(|p| p.id == id) else {
            return;
        };
        if let Some(m) = &self.options.discoverer.metrics {
            m.received_update(&self.options.name);
        }
        for g in groups {
            if g.targets.is_empty() {
                p.groups.remove(&g.source);
            } else {
                p.groups.insert(g.source.clone(), g);
            }
        }
        drop(state);
        self.triggered.store(true, Ordering::SeqCst);
    }
}

fn provider_index(name: &str) -> usize {
    name.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Stores a provider's updates until it is cancelled or the manager is gone.
async fn receive(
    inner: std::sync::Weak<Inner>,
    id: u64,
    cancel: CancellationToken,
    mut rx: mpsc::Receiver<Vec<TargetGroup>>,
) {
    loop {
        let groups = tokio::select! {
            _ = cancel.cancelled() => return,
            g = rx.recv() => match g {
                Some(g) => g,
                None => return,
            },
        };
        let Some(inner) = inner.upgrade() else { return };
        inner.update(id, groups);
    }
}
