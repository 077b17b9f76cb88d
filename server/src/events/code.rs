//! Event codes: 10 base58 characters from the OS's random source (≈ 58 bits), so a code
//! cannot be guessed or enumerated. Sequential ids never leave the server; [`EventIds`] keeps
//! which id a code names, which never changes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
pub const CODE_LENGTH: usize = 10;

pub fn new_code() -> Result<String, getrandom::Error> {
    let mut code = String::with_capacity(CODE_LENGTH);
    let mut bytes = [0u8; 32];
    while code.len() < CODE_LENGTH {
        getrandom::fill(&mut bytes)?;
        // Rejection sampling: 232 = 4 × 58, so every letter is equally likely.
        for byte in bytes.iter().filter(|&&byte| byte < 232).take(CODE_LENGTH - code.len()) {
            code.push(ALPHABET[usize::from(*byte % 58)] as char);
        }
    }
    Ok(code)
}

/// Whether `code` could be an event code (checked before touching the database).
pub fn is_well_formed(code: &str) -> bool {
    code.len() == CODE_LENGTH && code.bytes().all(|byte| ALPHABET.contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_well_formed_and_distinct() {
        let codes: std::collections::HashSet<String> = (0..1000).map(|_| new_code().unwrap()).collect();
        assert_eq!(codes.len(), 1000);
        assert!(codes.iter().all(|code| is_well_formed(code)));
        assert!(!is_well_formed("0OIl000000"), "ambiguous letters are not in base58");
        assert!(!is_well_formed("short"));
    }
}

/// Codes resolved to event ids, so the answer path reads nothing of the event before its write.
/// A code names one event for good (codes are unique and never reused); an event that is gone
/// is found gone by the write. Bounded: past [`EventIds::CAPACITY`] codes it starts over.
#[derive(Default)]
pub(crate) struct EventIds(Mutex<HashMap<String, i64>>);

impl EventIds {
    const CAPACITY: usize = 100_000;

    pub fn get(&self, code: &str) -> Option<i64> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get(code).copied()
    }

    pub fn keep(&self, code: &str, event_id: i64) {
        let mut ids = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if ids.len() >= Self::CAPACITY {
            ids.clear();
        }
        ids.insert(code.to_owned(), event_id);
    }
}
