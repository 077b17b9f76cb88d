//! The keys the server signs with. A signature must check on every server process that shares
//! the database and after a restart, so the secret lives in the database (`site_key`, one row
//! per purpose), created by the first process that needs it; a process only reads it at
//! start. HMAC-SHA256 from ring (already in the tree for the cluster's TLS).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;

use crate::db::{with_pool, Db};
use crate::error::{Error, Result};

/// Bytes of a new secret (the HMAC-SHA256 block is 64; 32 random bytes are its strength).
const SECRET_BYTES: usize = 32;

/// One purpose's key. Signing binds the purpose's name too, so a tag made for one use is
/// worthless for another even if the secrets were ever shared.
pub struct SiteKey {
    purpose: &'static str,
    key: hmac::Key,
}

impl std::fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteKey").field("purpose", &self.purpose).finish_non_exhaustive()
    }
}

impl SiteKey {
    /// The key for `purpose`, created on first use. Two processes starting at once both try
    /// to insert; the database keeps one row and both read that one.
    pub async fn load(db: &Db, purpose: &'static str) -> Result<Self> {
        let mut fresh = [0u8; SECRET_BYTES];
        getrandom::fill(&mut fresh).map_err(|e| Error::Random(e.to_string()))?;
        let insert = match db {
            Db::MySql(_) => "INSERT IGNORE INTO site_key (purpose, secret) VALUES (?, ?)",
            Db::Sqlite(_) => "INSERT OR IGNORE INTO site_key (purpose, secret) VALUES (?, ?)",
        };
        let secret: Vec<u8> = with_pool!(db, |pool| {
            sqlx::query(insert).bind(purpose).bind(&fresh[..]).execute(pool).await?;
            sqlx::query_scalar("SELECT secret FROM site_key WHERE purpose = ?").bind(purpose).fetch_one(pool).await?
        });
        Ok(Self { purpose, key: hmac::Key::new(hmac::HMAC_SHA256, &secret) })
    }

    /// A URL-safe tag over `parts` (each length-prefixed, so `("ab", "c")` and `("a", "bc")`
    /// differ).
    pub fn sign(&self, parts: &[&[u8]]) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, &self.message(parts)))
    }

    /// Whether `tag` is [`sign`](Self::sign) of `parts`, compared in constant time.
    pub fn verify(&self, parts: &[&[u8]], tag: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else { return false };
        hmac::verify(&self.key, &self.message(parts), &tag).is_ok()
    }

    fn message(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut message = Vec::with_capacity(self.purpose.len() + parts.iter().map(|part| part.len() + 8).sum::<usize>() + 8);
        for part in std::iter::once(self.purpose.as_bytes()).chain(parts.iter().copied()) {
            message.extend_from_slice(&(part.len() as u64).to_be_bytes());
            message.extend_from_slice(part);
        }
        message
    }
}
