//! Lag compensation end to end: a real server and real WebSocket players.
//! A target flies right along a line; two shooters wait below it and each
//! fires straight up at the target as it was a few ticks ago (as a screen
//! drawing the past would show it), leading it along that past timeline.
//! The one that says so in `Input.view` hits; the one that does not misses,
//! because the server then judges against the target as it is now, several
//! ticks further on. A claim far older than the cap is clamped and counted
//! in `/metrics`.

mod common;

use common::{Player, TestServer, http_get, metric, test_config};
use skirmish_shared::rules::buttons;
use skirmish_shared::{ClientMsg, Input, ShipId, Tick, ViewTime};

/// Where each ship waits (sub-units): the target starts at x = 300 units on
/// y = 600; the shooters sit 300 units below its line.
const TARGET_START: (u16, u16) = (2400, 4800);
const SHOOTER_PLAIN: (u16, u16) = (6400, 7200);
const SHOOTER_VIEW: (u16, u16) = (9600, 7200);
/// The target's step per tick along x, and the shot's (sub-units).
const STEP: i64 = 53;
const SHOT_STEP: i64 = 160;
/// How far in the past the shooters' "screen" is, in ticks, at least.
const SCREEN_BEHIND: i64 = 4;
/// Aim straight up (-y), exactly along the axis.
const AIM_UP: u8 = 192;

/// The buttons that move `at` towards `goal` (sub-units), none once within
/// a step on both axes.
fn towards(at: (u16, u16), goal: (u16, u16)) -> u8 {
    let axis = |a: u16, g: u16, neg: u8, pos: u8| {
        let d = i64::from(g) - i64::from(a);
        if d > STEP {
            pos
        } else if d < -STEP {
            neg
        } else {
            0
        }
    };
    axis(at.0, goal.0, buttons::LEFT, buttons::RIGHT)
        | axis(at.1, goal.1, buttons::UP, buttons::DOWN)
}

fn position(player: &Player, id: ShipId) -> (u16, u16) {
    let ship = player.world().ships[&id].state;
    (ship.x, ship.y)
}

/// A shooter waiting for its moment.
struct Shooter {
    player: Player,
    goal: (u16, u16),
    /// Sends its view time with the shot.
    claims_view: bool,
    /// The tick its shot was sent at, once sent.
    fired: Option<Tick>,
}

impl Shooter {
    /// Once in place, fires when the target's position `SCREEN_BEHIND` or
    /// more ticks ago is where a shot sent now meets it in that past
    /// timeline: the shot reaches the target's line at age `a`, and the
    /// target then (as seen from `view`) is over the shooter.
    async fn act(&mut self, target: ShipId, flying: bool) {
        let me = self.player.ship();
        let at = position(&self.player, me);
        if self.fired.is_some() || !flying || towards(at, self.goal) != 0 {
            let pressed = if self.fired.is_some() {
                0
            } else {
                towards(at, self.goal)
            };
            self.player.input(pressed, AIM_UP).await;
            return;
        }
        let latest = self.player.world().tick;
        let seen = position(&self.player, target);
        let rise = i64::from(at.1) - i64::from(seen.1);
        let age = (rise + SHOT_STEP / 2) / SHOT_STEP;
        // Ticks back to when the target was `age` steps short of our x.
        let back = (i64::from(seen.0) + STEP * age - i64::from(at.0) + STEP / 2).div_euclid(STEP);
        if back < SCREEN_BEHIND {
            self.player.input(0, AIM_UP).await;
            return;
        }
        let view = Tick(latest.0 - u32::try_from(back).expect("small"));
        self.player.seq += 1;
        let input = Input {
            seq: self.player.seq,
            ack: Some(latest),
            buttons: buttons::FIRE,
            aim: AIM_UP,
            view: self.claims_view.then_some(ViewTime {
                tick: view,
                frac: 0,
            }),
        };
        self.player.send(&ClientMsg::Input(input)).await;
        self.fired = Some(latest);
    }
}

#[tokio::test]
async fn a_shot_judged_at_the_claimed_view_hits_and_the_same_shot_without_it_misses() {
    let mut config = test_config();
    // The whole second of history: a loaded test machine may apply the
    // shot many ticks after the view it claims.
    config.lag_comp_max_ms = 1000;
    let server = TestServer::start(config).await;
    let room = Some("lagcomp");
    let mut target = Player::join(&server, "target", room).await;
    let mut shooters = [
        Shooter {
            player: Player::join(&server, "plain", room).await,
            goal: SHOOTER_PLAIN,
            claims_view: false,
            fired: None,
        },
        Shooter {
            player: Player::join(&server, "seer", room).await,
            goal: SHOOTER_VIEW,
            claims_view: true,
            fired: None,
        },
    ];
    let victim = target.ship();

    // Everyone to their places, then the target flies right.
    let mut flying = false;
    let mut hp_when: Vec<(Tick, u8)> = Vec::new();
    for _ in 0..1200 {
        target.snapshot().await;
        for shooter in &mut shooters {
            shooter.player.snapshot().await;
        }
        let at = position(&target, victim);
        let placed = shooters
            .iter()
            .all(|s| towards(position(&s.player, s.player.ship()), s.goal) == 0);
        if !flying && placed && towards(at, TARGET_START) == 0 {
            flying = true;
        }
        let pressed = if flying {
            buttons::RIGHT
        } else {
            towards(at, TARGET_START)
        };
        target.input(pressed, 0).await;
        for shooter in &mut shooters {
            shooter.act(victim, flying).await;
        }
        let hp = target.world().ships[&victim].state.hp;
        hp_when.push((target.world().tick, hp));
        // Both shots have had their whole second of flight.
        if let Some(last) = shooters.iter().map(|s| s.fired).max().flatten()
            && shooters.iter().all(|s| s.fired.is_some())
            && target.world().tick.since(last) > 40
        {
            break;
        }
    }
    let [plain, seer] = &shooters;
    let (plain_at, seer_at) = (
        plain.fired.expect("the plain shooter fired"),
        seer.fired.expect("the seeing shooter fired"),
    );
    assert!(
        plain_at < seer_at,
        "the target passes the plain shooter first"
    );
    let hp_between = |from: Tick, to: Tick| -> Vec<u8> {
        hp_when
            .iter()
            .filter(|(t, _)| *t > from && *t <= to)
            .map(|(_, hp)| *hp)
            .collect()
    };
    assert!(
        hp_between(plain_at, seer_at).iter().all(|&hp| hp == 3),
        "the shot without a view time is judged now and misses"
    );
    assert!(
        hp_between(seer_at, seer_at.after(40)).contains(&2),
        "the shot judged at its view time hits"
    );

    // A claim from long before the cap gets the cap, and is counted.
    let seer = &mut shooters[1].player;
    for _ in 0..10 {
        seer.snapshot().await;
        seer.input(0, AIM_UP).await;
    }
    seer.seq += 1;
    let ancient = Input {
        seq: seer.seq,
        ack: None,
        buttons: buttons::FIRE,
        aim: AIM_UP,
        view: Some(ViewTime {
            tick: Tick(1),
            frac: 0,
        }),
    };
    seer.send(&ClientMsg::Input(ancient)).await;
    let mut counted = None;
    for _ in 0..60 {
        seer.snapshot().await;
        let (_, metrics) = http_get(&server.http_url("/metrics")).await;
        counted = metric(&metrics, "skirmish_lag_comp_clamped_total");
        if counted == Some(1.0) {
            break;
        }
    }
    assert_eq!(counted, Some(1.0), "the clamped claim is counted once");
    server.stop().await;
}
