//! Recording a round's replay as the room plays it: the [`Recorder`] keeps
//! the `Arc`s of what the feed releases to watchers during a round (its
//! log entries with their live ids, its state samples), and the
//! [`Handover`] pairs each finished recording with the round's record, so
//! both reach the writer together and are stored in one transaction.
//!
//! Runs inside the room task, on the tick: it only keeps pointers the feed
//! already built (no serializing, no copying, no I/O) and hands finished
//! rounds on with the writer's `try_send`. Encoding happens in the writer.
//! Everything held is bounded: a round's recording by
//! [`MAX_RECORDED_ENTRIES`] and [`MAX_RECORDED_SAMPLES`], the records
//! waiting for their recording by the spectator delay.

use std::collections::VecDeque;
use std::sync::Arc;

use skirmish_shared::Tick;
use skirmish_shared::feed::{RoomEvent, Round};
use tracing::{debug, warn};

use super::event_log::{Json, LogEntry};
use super::feed::SampleFrame;
use crate::storage::RoundSink;
use crate::storage::record::RoundRecord;
use crate::storage::replay::{ReplayCapture, ReplayData};

/// Log entries one round's recording keeps at most (joins, leaves, kills,
/// scores): far beyond an hour of a full room's fighting. Past it the
/// round is not recorded (its record is still written).
pub const MAX_RECORDED_ENTRIES: usize = 200_000;

/// State samples one round's recording keeps at most: an hour at 10 Hz.
pub const MAX_RECORDED_SAMPLES: usize = 36_000;

/// The round being recorded.
#[derive(Debug)]
struct Recording {
    round: u32,
    start_tick: u32,
    /// The log's snapshot at the end of the batch that started the round;
    /// entries of that batch are in it.
    snapshot: (u64, Json),
    entries: Vec<Arc<LogEntry>>,
    samples: Vec<Arc<SampleFrame>>,
}

/// Records the rounds of one room's feed.
#[derive(Debug)]
pub struct Recorder {
    room: Arc<str>,
    tick_hz: u16,
    current: Option<Recording>,
    /// Finished recordings not yet taken by the room (at most the rounds
    /// ended in one release; taken every tick).
    finished: Vec<ReplayCapture>,
}

impl Recorder {
    #[must_use]
    pub fn new(room: Arc<str>, tick_hz: u16) -> Recorder {
        Recorder {
            room,
            tick_hz,
            current: None,
            finished: Vec::new(),
        }
    }

    /// The feed released `events`, logged as `entries` (in order; fewer
    /// only if the log ran out of ids), with `snapshot` true after them.
    pub fn logged(&mut self, events: &[RoomEvent], entries: &[Arc<LogEntry>], snapshot: &Json) {
        let mut started = false;
        for (event, entry) in events.iter().zip(entries) {
            match event {
                RoomEvent::Round(Round::Started { round, tick, .. }) => {
                    started = true;
                    self.current = Some(Recording {
                        round: *round,
                        start_tick: *tick,
                        snapshot: (entry.id, snapshot.clone()),
                        entries: Vec::new(),
                        samples: Vec::new(),
                    });
                }
                RoomEvent::Round(Round::Ended { round, tick, .. }) => {
                    if let Some(mut recording) = self.current.take()
                        && recording.round == *round
                        && !started
                    {
                        recording.entries.push(entry.clone());
                        self.finish(recording, *tick);
                    }
                }
                // Entries of the starting batch are in its snapshot.
                _ if started => {}
                _ => {
                    if let Some(recording) = self.current.as_mut() {
                        recording.entries.push(entry.clone());
                        if recording.entries.len() > MAX_RECORDED_ENTRIES {
                            self.abandon("entries");
                        }
                    }
                }
            }
        }
        if started && let (Some(recording), Some(last)) = (self.current.as_mut(), entries.last()) {
            recording.snapshot = (last.id, snapshot.clone());
        }
    }

    /// The feed released a state sample.
    pub fn sampled(&mut self, sample: &Arc<SampleFrame>) {
        if let Some(recording) = self.current.as_mut() {
            recording.samples.push(sample.clone());
            if recording.samples.len() > MAX_RECORDED_SAMPLES {
                self.abandon("samples");
            }
        }
    }

    /// Finished recordings since the last call.
    pub fn take_finished(&mut self) -> Vec<ReplayCapture> {
        std::mem::take(&mut self.finished)
    }

    fn finish(&mut self, recording: Recording, end_tick: u32) {
        self.finished.push(ReplayCapture {
            room: self.room.clone(),
            round: recording.round,
            tick_hz: self.tick_hz,
            start_tick: recording.start_tick,
            end_tick,
            snapshot: recording.snapshot,
            entries: recording.entries,
            samples: recording.samples,
        });
    }

    fn abandon(&mut self, what: &str) {
        if let Some(recording) = self.current.take() {
            warn!(room = %self.room, round = recording.round, what,
                "round too long to record; it gets no replay");
        }
    }
}

/// Finished rounds waiting for their replay: with a spectator delay the
/// feed releases a round's end that many ticks after the record is made.
#[derive(Debug, Default)]
pub struct Handover {
    /// Records and the tick they were made, oldest first. Each waits at
    /// most the delay, so this holds the rounds of one delay at most.
    waiting: VecDeque<(Tick, RoundRecord)>,
}

impl Handover {
    /// One tick's finished round (if any) and finished recordings: pairs
    /// them by round number and submits what is complete. A record waits
    /// at most `delay_ticks` for its recording, then goes without one; a
    /// recording no record claims (a round of bots alone) is dropped.
    pub fn tick(
        &mut self,
        now: Tick,
        delay_ticks: u32,
        finished: Option<RoundRecord>,
        replays: Vec<ReplayCapture>,
        sink: &RoundSink,
    ) {
        if let Some(record) = finished {
            self.waiting.push_back((now, record));
        }
        self.pair(replays, sink);
        while let Some((made, _)) = self.waiting.front()
            && now.since(*made) > delay_ticks
        {
            if let Some((_, record)) = self.waiting.pop_front() {
                sink.submit(record);
            }
        }
    }

    /// The room closes: everything waiting goes now.
    pub fn flush(&mut self, replays: Vec<ReplayCapture>, sink: &RoundSink) {
        self.pair(replays, sink);
        for (_, record) in self.waiting.drain(..) {
            sink.submit(record);
        }
    }

    fn pair(&mut self, replays: Vec<ReplayCapture>, sink: &RoundSink) {
        for replay in replays {
            let found = self
                .waiting
                .iter()
                .position(|(_, record)| record.round == replay.round);
            match found.and_then(|i| self.waiting.remove(i)) {
                Some((_, mut record)) => {
                    record.replay = Some(ReplayData::Captured(Arc::new(replay)));
                    sink.submit(record);
                }
                None => debug!(
                    round = replay.round,
                    "replay of an unrecorded round dropped"
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use skirmish_shared::feed::{Kill, StandingLine, Weapon};

    use super::*;
    use crate::room::event_ids::IdAllocator;
    use crate::room::event_log::{EventLog, to_json};

    fn started(round: u32, tick: u32) -> RoomEvent {
        RoomEvent::Round(Round::Started {
            ends_tick: tick + 100,
            room: "r".into(),
            round,
            secs_left: 10.0,
            tick,
            time: 0,
        })
    }

    fn ended(round: u32, tick: u32) -> RoomEvent {
        RoomEvent::Round(Round::Ended {
            room: "r".into(),
            round,
            standings: vec![StandingLine {
                name: "Ada".into(),
                player: 1,
                score: 1,
            }],
            tick,
            time: 0,
        })
    }

    fn kill(tick: u32) -> RoomEvent {
        RoomEvent::Kill(Kill {
            killer: 1,
            killer_name: "Ada".into(),
            room: "r".into(),
            tick,
            time: 0,
            victim: 2,
            victim_name: "Bob".into(),
            weapon: Weapon::Blaster,
        })
    }

    #[test]
    fn a_round_is_recorded_from_the_snapshot_after_its_start_to_its_end() {
        let log = EventLog::new(
            64,
            Arc::new(IdAllocator::starting_at(1000)),
            to_json(&0).into(),
        );
        let mut recorder = Recorder::new("r".into(), 30);
        let append = |recorder: &mut Recorder, events: Vec<RoomEvent>, tag: u32| {
            let snapshot: Json = to_json(&tag).into();
            let entries = log.append_kept(&events, Some(snapshot.clone()), true);
            recorder.logged(&events, &entries, &snapshot);
            entries.iter().map(|e| e.id).collect::<Vec<_>>()
        };
        // Before any start: nothing is recorded.
        append(&mut recorder, vec![kill(1)], 1);
        // The start's batch: its kill is in the snapshot, not an entry.
        let start = append(&mut recorder, vec![started(1, 10), kill(10)], 2);
        let middle = append(&mut recorder, vec![kill(20)], 3);
        // The end, and the next round's start, in one batch.
        let end = append(&mut recorder, vec![ended(1, 110), started(2, 110)], 4);
        let finished = recorder.take_finished();
        assert_eq!(finished.len(), 1);
        let replay = &finished[0];
        assert_eq!(
            (replay.round, replay.start_tick, replay.end_tick),
            (1, 10, 110)
        );
        assert_eq!(replay.snapshot.0, start[1], "the start batch's newest id");
        assert_eq!(replay.snapshot.1.get(), "2");
        let ids: Vec<u64> = replay.entries.iter().map(|e| e.id).collect();
        assert_eq!(ids, [middle[0], end[0]]);
        // Round 2 is being recorded from its own start.
        append(&mut recorder, vec![ended(2, 210)], 5);
        let next = recorder.take_finished();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].snapshot.0, end[1]);
        assert!(recorder.take_finished().is_empty());
    }
}
