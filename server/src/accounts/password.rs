//! Argon2id password hashing with OWASP's parameters (argon2's defaults: 19 MiB, t=2, p=1).
//! Hashing takes tens of milliseconds of CPU, so it always runs on the blocking pool.

use argon2::password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier};
use argon2::Argon2;

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

/// Hashes `password` with a fresh random salt.
pub async fn hash(password: String) -> Result<StoredPasswordHash> {
    tokio::task::spawn_blocking(move || {
        let hashed: PasswordHash = Argon2::default()
            .hash_password(password.as_bytes())
            .map_err(|e| Error::PasswordHash(e.to_string()))?;
        Ok(StoredPasswordHash(hashed.to_string()))
    })
    .await?
}

/// Whether `password` matches `stored`. A malformed stored hash is an internal error, never
/// a "yes".
pub async fn verify(password: String, stored: StoredPasswordHash) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored.0).map_err(|e| Error::PasswordHash(e.to_string()))?;
        match Argon2::default().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(other) => Err(Error::PasswordHash(other.to_string())),
        }
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_by_salt() {
        let first = hash("correct horse".into()).await.unwrap();
        let second = hash("correct horse".into()).await.unwrap();
        assert!(first.as_db().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", first.as_db());
        assert_ne!(first.as_db(), second.as_db());
        assert!(verify("correct horse".into(), first.clone()).await.unwrap());
        assert!(!verify("wrong horse".into(), first).await.unwrap());
    }

    #[tokio::test]
    async fn corrupt_hash_is_an_error_not_a_match() {
        let corrupt = StoredPasswordHash::from_db("not a hash".into());
        assert!(verify("anything".into(), corrupt).await.is_err());
    }
}
