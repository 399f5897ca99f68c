//! The audit list: the last admin actions, newest last, bounded so an
//! operator's script in a loop cannot grow it. It only records; the log
//! line of each action is written by the handler that did it.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use skirmish_shared::http::AuditEntry;

/// Entries kept: a busy day of actions, a few hundred KiB at most (each
/// entry's reason is at most `MAX_ADMIN_REASON_LEN` bytes).
pub const MAX_AUDIT_ENTRIES: usize = 1000;

/// The last [`MAX_AUDIT_ENTRIES`] actions.
#[derive(Debug, Default)]
pub struct AuditLog {
    /// Held to push or copy, never across an await.
    entries: Mutex<VecDeque<AuditEntry>>,
}

impl AuditLog {
    /// Records an action done now and returns its entry.
    pub fn record(&self, who: &str, action: &str, target: &str, reason: &str) -> AuditEntry {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let entry = AuditEntry {
            at_ms,
            who: who.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            reason: reason.to_owned(),
        };
        let mut entries = self.entries.lock();
        if entries.len() == MAX_AUDIT_ENTRIES {
            entries.pop_front();
        }
        entries.push_back(entry.clone());
        entry
    }

    /// Every kept entry, oldest first.
    #[must_use]
    pub fn list(&self) -> Vec<AuditEntry> {
        self.entries.lock().iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entries_go_first() {
        let log = AuditLog::default();
        for i in 0..=MAX_AUDIT_ENTRIES {
            log.record("tester", "kick", &i.to_string(), "");
        }
        let list = log.list();
        assert_eq!(list.len(), MAX_AUDIT_ENTRIES);
        assert_eq!(list[0].target, "1");
        assert_eq!(
            list[MAX_AUDIT_ENTRIES - 1].target,
            MAX_AUDIT_ENTRIES.to_string()
        );
    }
}
