//! The simulation of one room: a bevy_ecs `World` and `Schedule` stepped by
//! [`Sim::step`], deterministic given its seed and inputs.
//!
//! Owns the game rules of GAME.md as they play out tick by tick (inputs,
//! movement, fire, hits, respawns, rounds, server-side bots). It must never
//! do networking, read the wall clock or hold a lock: the room task owns a
//! `Sim`, feeds it inputs and ships its outputs.
//!
//! # Layout
//! - [`sim`]: `Sim`, `SimConfig`, building the world and stepping it; its
//!   child `scenarios` holds the whole-simulation tests.
//! - [`output`]: `TickOutput` and `WorldState`, what a step hands back.
//! - [`components`] and [`resources`]: the data; [`systems`]: the rules, one
//!   concern per file, ordered once by [`systems::RoomSystems`].
//! - [`roster`]: admitting and removing ships between ticks; [`ids`]: ship
//!   id allocation with quarantine; [`grid`]: the spatial index; [`past`]:
//!   the ships' recent positions and the rewind rule of lag compensation.

pub mod components;
pub mod grid;
pub mod ids;
pub mod output;
pub mod past;
pub mod resources;
pub mod roster;
pub mod sim;
pub mod systems;

pub use ids::ID_QUARANTINE_TICKS;
pub use output::{ShipEntry, ShotEntry, TickOutput, WorldState};
pub use sim::{Sim, SimConfig};
pub use systems::RoomSystems;
