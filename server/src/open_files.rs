//! The process's open-file limit. Every connection is a file, and a live page holds one for as
//! long as it is open, so the limit is the most connections the server can hold. At start the
//! soft limit is raised to the hard one (many systems start services at 1,024 soft with a far
//! higher hard limit), and live streams are capped below it: streams that took every last
//! descriptor would leave no room to accept a save, a log-in or the database's connections,
//! so past the cap a stream is refused (503, the page polls instead) rather than the site.
//! The cap is half of what a reserve leaves: each reader may hold a second connection.

/// Descriptors kept for everything but live streams and their readers' other connections:
/// requests from elsewhere, the database pool, node links, files (a quarter of a small limit).
const RESERVED: u64 = 1024;

/// Raises the soft open-file limit as far as allowed and returns it (`None` if unknown).
pub fn raise_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(error) => {
            tracing::warn!(%error, "cannot read or raise the open-file limit");
            None
        }
    }
}

/// How many live streams fit in `limit` open files: half of what is left after the reserve,
/// since a browser with a page open may also keep a second connection idle for its saves.
pub fn streams_within(limit: u64) -> usize {
    let reserved = RESERVED.min(limit / 4);
    usize::try_from(limit.saturating_sub(reserved) / 2).unwrap_or(usize::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_leave_room_for_the_rest() {
        assert_eq!(streams_within(20_000), 9_488);
        assert_eq!(streams_within(1_024), 384);
        assert_eq!(streams_within(1), 1);
    }
}
