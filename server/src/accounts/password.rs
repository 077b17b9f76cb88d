//! Argon2id password hashing with OWASP's parameters (argon2's defaults: 19 MiB, t=2, p=1),
//! on a fixed pool of hashing threads with a bounded queue ([`HashingPool`]).
//!
//! Each hash takes tens of milliseconds of CPU and 19 MiB of memory. On tokio's blocking pool
//! (up to 512 threads) a burst of sign-ups ran that many at once: ~10 GiB at worst, and glibc
//! keeps each thread's arena, so the process stayed at gigabytes. Here at most `workers`
//! hashes run, on the same few threads; a request that finds the queue full is refused at
//! once ([`Error::Busy`], 503 with `Retry-After`) instead of costing memory. Each hashing
//! thread also keeps its 19 MiB of working memory for its whole life
//! (`hash_password_into_with_memory`): allocating and freeing 19 MiB per hash fragmented
//! the allocator's arenas into a plateau of ~200 MB.

use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use std::cell::RefCell;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    /// Jobs sent and not yet taken by a thread (for the metrics).
    waiting: Arc<std::sync::atomic::AtomicUsize>,
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
        Ok(Self { jobs, waiting: Arc::default() })
    }

    /// Hashes waiting for a thread.
    pub fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// About one worker per core, and a queue a few hundred milliseconds deep.
    pub fn sized_for_this_machine() -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(cores, cores * 16)
    }

    /// Hashes `password` with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<StoredPasswordHash> {
        self.run(move || hash_now(password.as_bytes())).await
    }

    /// Whether `password` matches `stored`. A malformed stored hash is an internal error,
    /// never a "yes".
    pub async fn verify(&self, password: String, stored: StoredPasswordHash) -> Result<bool> {
        self.run(move || verify_now(password.as_bytes(), &stored.0)).await
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let waiting = Arc::clone(&self.waiting);
        waiting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let job: Job = Box::new(move || {
            waiting.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            // The request may have gone away meanwhile; the work is done either way.
            let _ = reply.send(work());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.waiting.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                return Err(Error::Busy { retry_after_secs: BUSY_RETRY_AFTER_SECS });
            }
            Err(TrySendError::Disconnected(_)) => {
                self.waiting.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                return Err(Error::PasswordHash("the hashing threads stopped".into()));
            }
        }
        answer.await.map_err(|_| Error::PasswordHash("a hashing thread dropped a job".into()))?
    }
}

thread_local! {
    /// This thread's argon2 working memory, kept between hashes.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn hashing_error(error: impl std::fmt::Display) -> Error {
    Error::PasswordHash(error.to_string())
}

/// Runs argon2 with this thread's memory, sized for `params` (reallocated only when a stored
/// hash has other parameters than the last one).
fn compute(argon2: &Argon2<'_>, params: &Params, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<()> {
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() != params.block_count() {
            *memory = vec![Block::default(); params.block_count()];
        }
        argon2.hash_password_into_with_memory(password, salt, out, memory.as_mut_slice()).map_err(hashing_error)
    })
}

/// Argon2id with OWASP's parameters (argon2's defaults) and a 16-byte random salt, as a PHC
/// string.
fn hash_now(password: &[u8]) -> Result<StoredPasswordHash> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Random(e.to_string()))?;
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&argon2, &params, password, &salt, &mut out)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(hashing_error)?,
        salt: Some(Salt::new(&salt).map_err(hashing_error)?),
        hash: Some(Output::new(&out).map_err(hashing_error)?),
    };
    Ok(StoredPasswordHash(hash.to_string()))
}

/// Recomputes the stored hash's function over `password` and compares in constant time.
fn verify_now(password: &[u8], stored: &str) -> Result<bool> {
    let parsed = PasswordHash::new(stored).map_err(hashing_error)?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(hashing_error)?;
    let version = parsed.version.map(Version::try_from).transpose().map_err(hashing_error)?.unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(hashing_error)?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(Error::PasswordHash("the stored hash has no salt or output".into()));
    };
    let mut out = vec![0u8; expected.len()];
    compute(&Argon2::new(algorithm, version, params.clone()), &params, password, salt.as_ref(), &mut out)?;
    Ok(Output::new(&out).map_err(hashing_error)? == *expected)
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
    async fn hashes_agree_with_the_argon2_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let pool = HashingPool::new(1, 2).unwrap();
        // A hash made before this pool kept its memory (argon2's own API) still verifies...
        let old: PasswordHash = Argon2::default().hash_password(b"correct horse").unwrap();
        let old = StoredPasswordHash::from_db(old.to_string());
        assert!(pool.verify("correct horse".into(), old.clone()).await.unwrap());
        assert!(!pool.verify("wrong horse".into(), old).await.unwrap());
        // ...and the crate verifies ours.
        let ours = pool.hash("correct horse".into()).await.unwrap();
        let parsed = PasswordHash::new(ours.as_db()).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong horse", &parsed).is_err());
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
