//! Reminders fall due by the clock, not by a request: the sender's loop asks for events whose
//! `reminder_due_at` has passed and, per event, clears it and writes a reminder to each
//! participant without an answer in one transaction. The clearing update is conditional, so of
//! several server processes exactly one writes an event's reminders; the event's row lock
//! (which every answer takes too) makes "without an answer" exact at that moment.

use chrono::{DateTime, Utc};

use app::notifications::NotificationKind;

use crate::db::{with_pool, BeginWrite, Db};
use crate::outbox::{self, Audience, Mail};

/// The most events handled per call.
const BATCH: u32 = 100;

pub async fn write_due(db: &Db, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    const DUE: &str = "SELECT event_id FROM event WHERE reminder_due_at <= ? ORDER BY reminder_due_at LIMIT ?";
    // Still open: a cancelled or decided event, or one whose deadline passed while no server
    // ran, gets no reminder (its due time is cleared all the same).
    const TAKE: &str = "UPDATE event SET reminder_due_at = NULL WHERE event_id = ? AND reminder_due_at IS NOT NULL";
    const OPEN: &str = "SELECT COUNT(*) FROM event WHERE event_id = ? AND cancelled_at IS NULL AND outcome_stored_at IS NULL AND deadline > ?";
    let due: Vec<i64> = with_pool!(db, |pool| sqlx::query_scalar(DUE).bind(now).bind(BATCH).fetch_all(pool).await)?;
    for event_id in due {
        with_pool!(db, |pool| {
            let mut tx = pool.begin_write().await?;
            let taken = sqlx::query(TAKE).bind(event_id).execute(&mut *tx).await?.rows_affected() == 1;
            let open: i64 = sqlx::query_scalar(OPEN).bind(event_id).bind(now).fetch_one(&mut *tx).await?;
            if taken && open == 1 {
                outbox::to_participants(&mut tx, Mail::Notice(NotificationKind::Reminder), Audience::NotAnswered, &[event_id], now).await?;
                tracing::info!(event_id, "reminders written");
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        })?;
    }
    Ok(())
}
