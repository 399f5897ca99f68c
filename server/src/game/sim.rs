//! `Sim`: one room's simulation, a bevy `World` plus the room `Schedule`,
//! owned by exactly one task and stepped one tick at a time. The room task
//! calls it; it does no I/O, reads no clock and holds no locks, so the same
//! seed and inputs always produce the same outputs.

use std::sync::Arc;

use bevy_ecs::prelude::*;
use skirmish_shared::rng::XorShift;
use skirmish_shared::rules::Rules;
use skirmish_shared::{Input, RoundState, ShipId, Tick};

use super::ids::ShipIdPool;
use super::output::{TickOutput, WorldState};
use super::past::{LagCompensation, PastPositions};
use super::resources::{
    ClampedViews, EmittedState, FirstRound, InputInbox, RoomClock, RoomRng, RoomRules, RosterNews,
    RoundClock, ShipDirectory, ShipGrid, ShipKilled, ShotCounter, TickEvents,
};
use super::roster;
use super::systems::room_schedule;

/// How to set up a room's simulation.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The rules to play by.
    pub rules: Rules,
    /// Seeds every random choice (spawn points, bots).
    pub seed: u64,
    /// Server-side bots spawned at start ("Bot 1", "Bot 2", ...), bot = true.
    pub bots: usize,
    /// At most this many inputs per ship are applied in one tick; older
    /// excess is dropped and counted. 0 acts as 1.
    pub max_inputs_per_tick: usize,
    /// How far back shots are judged against what their shooter saw
    /// (`LagCompensation::default()`: not at all).
    pub lag_comp: LagCompensation,
}

/// One room's simulation.
pub struct Sim {
    world: World,
    schedule: Schedule,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("tick", &self.tick())
            .field("ships", &self.ships_len())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// A room at tick 0 with `config.bots` bots; round 1 starts on the first
    /// step.
    #[must_use]
    pub fn new(config: SimConfig) -> Sim {
        let mut world = World::new();
        world.insert_resource(ShipGrid::for_rules(&config.rules));
        world.insert_resource(PastPositions::new(&config.rules, config.lag_comp));
        world.insert_resource(RoomRules(config.rules));
        world.insert_resource(RoomClock::default());
        world.insert_resource(RoomRng(XorShift::new(config.seed)));
        world.insert_resource(InputInbox {
            max_per_tick: config.max_inputs_per_tick.max(1),
            ..InputInbox::default()
        });
        world.init_resource::<ShipDirectory>();
        world.init_resource::<ShipIdPool>();
        world.init_resource::<ShotCounter>();
        world.init_resource::<RosterNews>();
        world.init_resource::<RoundClock>();
        world.init_resource::<FirstRound>();
        world.init_resource::<TickEvents>();
        world.init_resource::<EmittedState>();
        world.init_resource::<ClampedViews>();
        world.init_resource::<Messages<ShipKilled>>();
        roster::set_bots(&mut world, config.bots);
        Sim {
            world,
            schedule: room_schedule(),
        }
    }

    /// The rules this room plays by.
    #[must_use]
    pub fn rules(&self) -> &Rules {
        &self.world.resource::<RoomRules>().0
    }

    /// Last completed tick; `Tick(0)` before the first step.
    #[must_use]
    pub fn tick(&self) -> Tick {
        self.world.resource::<RoomClock>().tick
    }

    /// Ships in the room, bots included.
    #[must_use]
    pub fn ships_len(&self) -> usize {
        self.world.resource::<ShipDirectory>().len()
    }

    /// Spawns a human player's ship at a random free point, hp = max_hp,
    /// score 0. The ship is in the next step's output and a Joined event is
    /// emitted on that step. Returns its id.
    ///
    /// # Panics
    /// If all 65,535 ship ids are live or quarantined; a room caps its
    /// players far below that. [`Sim::try_spawn_player`] returns `None`
    /// instead.
    pub fn spawn_player(&mut self, name: &str) -> ShipId {
        self.try_spawn_player(name)
            .expect("a room never holds 65,535 ships")
    }

    /// [`Sim::spawn_player`], or `None` when no ship id is free.
    pub fn try_spawn_player(&mut self, name: &str) -> Option<ShipId> {
        roster::spawn_ship(&mut self.world, Arc::from(name), None)
    }

    /// Seats a player's ship under `id` (its id on the node that handed
    /// this room over); false if that id is live or quarantined here.
    pub fn try_spawn_player_as(&mut self, id: ShipId, name: &str) -> bool {
        roster::spawn_ship_as(&mut self.world, id, Arc::from(name))
    }

    /// Numbers the first round `number` (a room handed over from another
    /// node goes on with the round it was about to play there). Only
    /// before the first step; afterwards rounds are already counting.
    pub fn continue_rounds_at(&mut self, number: u32) {
        if self.world.resource::<RoundClock>().0.is_none() {
            self.world.insert_resource(FirstRound(number.max(1)));
        }
    }

    /// Removes a ship (player left); emits Left on the next step. Returns
    /// false if unknown.
    pub fn remove_ship(&mut self, id: ShipId) -> bool {
        roster::remove_ship(&mut self.world, id)
    }

    /// Clears a ship's held input (its player disconnected: the ship stops,
    /// does not fire).
    pub fn clear_input(&mut self, id: ShipId) {
        roster::clear_input(&mut self.world, id);
    }

    /// Adds or removes server-side bots so that `n` exist.
    pub fn set_bots(&mut self, n: usize) {
        roster::set_bots(&mut self.world, n);
    }

    /// Runs one tick. `inputs` are the inputs that arrived since the last
    /// step, in arrival order, for any ships (unknown ship ids are ignored).
    pub fn step(&mut self, inputs: &[(ShipId, Input)]) -> TickOutput {
        let tick = {
            let mut clock = self.world.resource_mut::<RoomClock>();
            clock.tick = clock.tick.next();
            clock.tick
        };
        {
            let mut inbox = self.world.resource_mut::<InputInbox>();
            inbox.arrivals.clear();
            inbox.arrivals.extend_from_slice(inputs);
            inbox.dropped = 0;
        }
        self.world.resource_mut::<ClampedViews>().0 = 0;
        self.schedule.run(&mut self.world);

        let inputs_dropped = self.world.resource::<InputInbox>().dropped;
        let views_clamped = self.world.resource::<ClampedViews>().0;
        let events = std::mem::take(&mut self.world.resource_mut::<TickEvents>().0);
        let state = self
            .world
            .resource_mut::<EmittedState>()
            .0
            .take()
            .unwrap_or_else(|| WorldState {
                tick,
                round: RoundState {
                    number: 0,
                    started: Tick(0),
                    ends: Tick(0),
                },
                ships: Vec::new(),
                shots: Vec::new(),
            });
        TickOutput {
            tick,
            state,
            events,
            inputs_dropped,
            views_clamped,
        }
    }
}

#[cfg(test)]
mod scenarios;
