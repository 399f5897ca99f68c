//! Applies the inputs that arrived since the last tick to each ship's held
//! controls. Owns the input rules (order by seq, stale and excess dropping,
//! fire latching); must never trust an input for more than buttons and aim,
//! and never let arrival order across ships matter.

use bevy_ecs::prelude::*;
use skirmish_shared::rules::buttons;
use skirmish_shared::{Input, ShipId, ViewTime};

use crate::game::components::Controls;
use crate::game::resources::{InputInbox, ShipDirectory};

/// One arrived input with its arrival index, the last tie-breaker.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    ship: ShipId,
    order: u32,
    input: Input,
}

/// What one ship's inputs of a tick come to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The newest applied input, if any was applied.
    pub newest: Option<Input>,
    /// Any applied input pressed fire.
    pub fire: bool,
    /// The view time of the newest applied input that pressed fire.
    pub fire_view: Option<ViewTime>,
    /// Inputs dropped: stale, duplicate, or the oldest beyond the limit.
    pub dropped: u32,
}

/// Chooses which of one ship's inputs to apply. `sorted` must be sorted by
/// seq (ties in arrival order). Stale (`seq <= last_input`) and duplicate
/// sequences are dropped; of the rest only the newest `max` are applied.
#[must_use]
pub fn select_inputs(last_input: u32, max: usize, sorted: &[Input]) -> Applied {
    let max = max.max(1);
    let fresh = |prev: &mut u32, input: &Input| {
        let ok = input.seq > *prev;
        if ok {
            *prev = input.seq;
        }
        ok
    };
    let mut prev = last_input;
    let valid = sorted.iter().filter(|i| fresh(&mut prev, i)).count();
    let excess = valid.saturating_sub(max);
    let mut applied = Applied {
        dropped: u32::try_from(sorted.len() - valid + excess).unwrap_or(u32::MAX),
        ..Applied::default()
    };
    let mut prev = last_input;
    for input in sorted.iter().filter(|i| fresh(&mut prev, i)).skip(excess) {
        if input.buttons & buttons::FIRE != 0 {
            applied.fire = true;
            applied.fire_view = input.view;
        }
        applied.newest = Some(*input);
    }
    applied
}

/// Drains the inbox into the ships' controls.
pub fn apply_inputs(
    mut inbox: ResMut<InputInbox>,
    directory: Res<ShipDirectory>,
    mut ships: Query<&mut Controls>,
    mut sorted: Local<Vec<Arrival>>,
    mut group: Local<Vec<Input>>,
) {
    let inbox = &mut *inbox;
    sorted.clear();
    sorted.extend(
        inbox
            .arrivals
            .drain(..)
            .zip(0u32..)
            .map(|((ship, input), order)| Arrival { ship, order, input }),
    );
    sorted.sort_unstable_by_key(|a| (a.ship, a.input.seq, a.order));

    let mut dropped = 0u32;
    for chunk in sorted.chunk_by(|a, b| a.ship == b.ship) {
        // Unknown ships (left, or never existed) are ignored, not counted:
        // their inputs were in flight when the ship went away.
        let Some(mut controls) = directory
            .get(chunk[0].ship)
            .and_then(|entity| ships.get_mut(entity).ok())
        else {
            continue;
        };
        group.clear();
        group.extend(chunk.iter().map(|a| a.input));
        let applied = select_inputs(controls.last_input, inbox.max_per_tick, &group);
        dropped = dropped.saturating_add(applied.dropped);
        if let Some(newest) = applied.newest {
            controls.movement = newest.buttons & buttons::ALL & !buttons::FIRE;
            controls.aim = newest.aim;
            controls.last_input = newest.seq;
            if applied.fire {
                controls.fire = true;
                controls.fire_view = applied.fire_view;
            }
        }
    }
    inbox.dropped = inbox.dropped.saturating_add(dropped);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(seq: u32, buttons: u8) -> Input {
        Input {
            seq,
            ack: None,
            buttons,
            aim: seq as u8,
            view: None,
        }
    }

    #[test]
    fn newest_wins_and_any_fire_latches() {
        let got = select_inputs(0, 8, &[input(1, buttons::FIRE), input(2, buttons::UP)]);
        assert_eq!(got.newest, Some(input(2, buttons::UP)));
        assert!(got.fire, "a fire press on an older input is not lost");
        assert_eq!(got.dropped, 0);
    }

    #[test]
    fn stale_and_duplicate_sequences_are_dropped() {
        let got = select_inputs(
            5,
            8,
            &[
                input(3, 0),
                input(5, buttons::FIRE),
                input(6, 0),
                input(6, buttons::FIRE),
            ],
        );
        assert_eq!(
            got.newest,
            Some(input(6, 0)),
            "the first arrival of seq 6 wins"
        );
        assert!(!got.fire);
        assert_eq!(got.dropped, 3);
        let none = select_inputs(9, 8, &[input(9, buttons::FIRE)]);
        assert_eq!(
            none,
            Applied {
                newest: None,
                fire: false,
                fire_view: None,
                dropped: 1
            }
        );
    }

    #[test]
    fn the_oldest_excess_is_dropped() {
        let sorted = [
            input(1, buttons::FIRE),
            input(2, 0),
            input(3, buttons::FIRE),
            input(4, buttons::LEFT),
        ];
        let got = select_inputs(0, 2, &sorted);
        assert_eq!(got.newest, Some(input(4, buttons::LEFT)));
        assert!(got.fire, "seq 3 was applied and pressed fire");
        assert_eq!(got.dropped, 2);
        let got = select_inputs(0, 1, &sorted[..3]);
        assert!(got.fire);
        let got = select_inputs(0, 1, &sorted[..2]);
        assert!(!got.fire, "the press on dropped seq 1 goes with it");
        assert_eq!(
            select_inputs(0, 0, &sorted).newest,
            Some(input(4, buttons::LEFT)),
            "a limit of 0 acts as 1"
        );
    }
}
