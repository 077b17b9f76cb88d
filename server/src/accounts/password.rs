//! Argon2id password hashing with OWASP's parameters (argon2's defaults: 19 MiB, t=2, p=1),
//! on a fixed pool of hashing threads with a bounded queue ([`HashingPool`]).
//!
//! Each hash takes tens of milliseconds of CPU and 19 MiB of memory. On tokio's blocking pool
//! (up to 512 threads) a burst of sign-ups ran that many at once: ~10 GiB at worst, and glibc
//! keeps each thread's arena, so the process stayed at gigabytes. Here at most `workers`
//! hashes run, on the same few threads; a request that finds the queue full is refused at
//! once ([`Error::Busy`], 503 with `Retry-After`) instead of costing memory.

use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// A PHC-format hash as stored in `user.password_hash`. Deliberately neither `Serialize` nor
/// printable, so it cannot leak into a response or a log line.
#[derive(Clone)]
pub struct StoredPasswordHash(String);

impl StoredPasswordHash {
    pub fn from_db(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_db(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for StoredPasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredPasswordHash(<redacted>)")
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// How long a client refused by a full queue is asked to wait.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// `workers` threads that hash and verify, fed through a queue of at most `queue` jobs.
pub struct HashingPool {
    jobs: SyncSender<Job>,
}

impl HashingPool {
    /// Starts the threads; they end when the pool is dropped.
    pub fn new(workers: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..workers.max(1) {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new().name(format!("argon2-{index}")).spawn(move || loop {
                // Holding the lock only to take a job: the others wait for the next one.
                let job = receiver.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).recv();
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            })?;
        }
        Ok(Self { jobs })
    }

    /// About one worker per core, and a queue a few hundred milliseconds deep.
    pub fn sized_for_this_machine() -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(cores, cores * 16)
    }

    /// Hashes `password` with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<StoredPasswordHash> {
        self.run(move || {
            let hashed: PasswordHash = Argon2::default()
                .hash_password(password.as_bytes())
                .map_err(|e| Error::PasswordHash(e.to_string()))?;
            Ok(StoredPasswordHash(hashed.to_string()))
        })
        .await
    }

    /// Whether `password` matches `stored`. A malformed stored hash is an internal error,
    /// never a "yes".
    pub async fn verify(&self, password: String, stored: StoredPasswordHash) -> Result<bool> {
        self.run(move || {
            let parsed = PasswordHash::new(&stored.0).map_err(|e| Error::PasswordHash(e.to_string()))?;
            match Argon2::default().verify_password(password.as_bytes(), &parsed) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(other) => Err(Error::PasswordHash(other.to_string())),
            }
        })
        .await
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The request may have gone away meanwhile; the work is done either way.
            let _ = reply.send(work());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Error::Busy { retry_after_secs: BUSY_RETRY_AFTER_SECS }),
            Err(TrySendError::Disconnected(_)) => return Err(Error::PasswordHash("the hashing threads stopped".into())),
        }
        answer.await.map_err(|_| Error::PasswordHash("a hashing thread dropped a job".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_by_salt() {
        let pool = HashingPool::new(2, 4).unwrap();
        let first = pool.hash("correct horse".into()).await.unwrap();
        let second = pool.hash("correct horse".into()).await.unwrap();
        assert!(first.as_db().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", first.as_db());
        assert_ne!(first.as_db(), second.as_db());
        assert!(pool.verify("correct horse".into(), first.clone()).await.unwrap());
        assert!(!pool.verify("wrong horse".into(), first).await.unwrap());
    }

    #[tokio::test]
    async fn corrupt_hash_is_an_error_not_a_match() {
        let pool = HashingPool::new(1, 1).unwrap();
        let corrupt = StoredPasswordHash::from_db("not a hash".into());
        assert!(pool.verify("anything".into(), corrupt).await.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_requests_are_refused_at_once() {
        let pool = Arc::new(HashingPool::new(1, 2).unwrap());
        let requests = (0..12).map(|_| {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.hash("correct horse".into()).await })
        });
        let results: Vec<_> = futures::future::join_all(requests).await.into_iter().map(|joined| joined.unwrap()).collect();
        let busy = results.iter().filter(|result| matches!(result, Err(Error::Busy { .. }))).count();
        let hashed = results.iter().filter(|result| result.is_ok()).count();
        assert_eq!(busy + hashed, 12, "only hashes and refusals");
        // One running and two queued at most when the burst arrives.
        assert!((1..=3).contains(&hashed), "{hashed} hashed, {busy} refused");
    }
}
