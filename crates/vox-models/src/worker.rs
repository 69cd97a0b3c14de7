//! Model inference off the async runtime: worker threads, each owning its model state,
//! fed through one bounded queue. A full queue answers "busy" at once (callers fall back)
//! instead of queueing without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use vox_providers::ProviderError;

use crate::ModelError;

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// Worker threads over states `S` (one thread per state). Cloning shares the workers;
/// they stop when the last clone is dropped.
pub(crate) struct Workers<S> {
    jobs: SyncSender<Job<S>>,
    name: &'static str,
    /// Jobs queued or running.
    load: Arc<AtomicUsize>,
    threads: usize,
}

impl<S> Clone for Workers<S> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
            name: self.name,
            load: self.load.clone(),
            threads: self.threads,
        }
    }
}

impl<S: Send + 'static> Workers<S> {
    /// One thread per state, named `name-i`, sharing a queue of `queue` jobs.
    pub(crate) fn spawn(
        name: &'static str,
        states: Vec<S>,
        queue: usize,
    ) -> Result<Self, ModelError> {
        let (tx, rx) = sync_channel::<Job<S>>(queue);
        let rx: Arc<Mutex<Receiver<Job<S>>>> = Arc::new(Mutex::new(rx));
        let load = Arc::new(AtomicUsize::new(0));
        let threads = states.len();
        for (i, mut state) in states.into_iter().enumerate() {
            let rx = rx.clone();
            let load = load.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => {
                                job(&mut state);
                                load.fetch_sub(1, Ordering::SeqCst);
                            }
                            Err(_) => return, // every handle is gone
                        }
                    }
                })
                .map_err(|e| ModelError::Runtime(format!("cannot start a {name} worker: {e}")))?;
        }
        Ok(Self {
            jobs: tx,
            name,
            load,
            threads,
        })
    }

    /// Whether every worker has a job (a new one would wait).
    pub(crate) fn busy(&self) -> bool {
        self.load.load(Ordering::SeqCst) >= self.threads
    }

    /// Jobs queued or running, as it changes (a running job counts itself).
    pub(crate) fn load_counter(&self) -> Arc<AtomicUsize> {
        self.load.clone()
    }

    /// Queues `job`, counting it until a worker has run it.
    fn submit(&self, job: Job<S>) -> Result<(), TrySendError<Job<S>>> {
        self.load.fetch_add(1, Ordering::SeqCst);
        self.jobs.try_send(job).inspect_err(|_| {
            self.load.fetch_sub(1, Ordering::SeqCst);
        })
    }

    /// Runs `f` on a worker, waiting for a place in the queue and for the result.
    pub(crate) fn run_blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S) -> Result<R, ModelError> + Send + 'static,
    ) -> Result<R, ModelError> {
        let (tx, rx) = sync_channel(1); // one reply
        self.load.fetch_add(1, Ordering::SeqCst);
        self.jobs
            .send(Box::new(move |s| {
                let _ = tx.send(f(s));
            }))
            .map_err(|_| {
                self.load.fetch_sub(1, Ordering::SeqCst);
                ModelError::Runtime(format!("{} workers stopped", self.name))
            })?;
        rx.recv()
            .map_err(|_| ModelError::Runtime(format!("a {} worker died", self.name)))?
    }

    /// Runs `f` on a worker without blocking the caller; a full queue is a retryable
    /// "busy" error from `provider` at once.
    pub(crate) fn run<R: Send + 'static>(
        &self,
        provider: &'static str,
        f: impl FnOnce(&mut S) -> Result<R, ModelError> + Send + 'static,
    ) -> BoxFuture<'static, Result<R, ProviderError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let name = self.name;
        let job: Job<S> = Box::new(move |s| {
            let _ = tx.send(f(s));
        });
        match self.submit(job) {
            Ok(()) => async move {
                rx.await
                    .map_err(|_| {
                        ProviderError::new(
                            provider,
                            format!("a {name} worker dropped the job"),
                            true,
                        )
                    })?
                    .map_err(|e| ProviderError::new(provider, e.to_string(), false))
            }
            .boxed(),
            Err(TrySendError::Full(_)) => futures::future::ready(Err(ProviderError::new(
                provider,
                format!("{name} is busy"),
                true,
            )))
            .boxed(),
            Err(TrySendError::Disconnected(_)) => futures::future::ready(Err(ProviderError::new(
                provider,
                format!("{name} stopped"),
                false,
            )))
            .boxed(),
        }
    }
}
