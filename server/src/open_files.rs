//! The process's open-file limit. Every connection is a file, and a live page holds one for as
//! long as it is open, so the limit is the most connections the server can hold. At start the
//! soft limit is raised to the hard one (many systems start services at 1,024 soft with a far
//! higher hard limit), and live streams are capped below it: streams that took every last
//! descriptor would leave no room to accept a save, a log-in or the database's connections,
//! so past the cap a stream is refused (503, the page polls instead) rather than the site.

/// Descriptors kept for everything but live streams: requests in flight, the database pool,
/// node links, files.
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

/// How many live streams fit in `limit` open files, keeping [`RESERVED`] for the rest.
pub fn streams_within(limit: u64) -> usize {
    usize::try_from(limit.saturating_sub(RESERVED)).unwrap_or(usize::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_leave_room_for_the_rest() {
        assert_eq!(streams_within(20_000), 18_976);
        assert_eq!(streams_within(1_024), 1);
        assert_eq!(streams_within(100), 1);
    }
}
