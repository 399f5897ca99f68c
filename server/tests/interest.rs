//! Interest management end to end: a real server and real WebSocket
//! players. With `--interest-from-ships 0` every tick is filtered: a player
//! holds another ship exactly when that ship (where its own player's
//! snapshots put it on the same tick) lies in the area of interest around
//! the player's ship; it holds its own ship always; a ship that leaves and
//! comes back is removed and re-sent, never left stale. Below the threshold
//! a room sends everything, and at a realistic density interest costs a
//! player far fewer bytes.

mod common;

use std::collections::BTreeMap;

use common::{Player, TestServer, WAIT, test_config};
use futures_util::StreamExt;
use skirmish_shared::interest::Camera;
use skirmish_shared::rules::{Rules, buttons};
use skirmish_shared::{ServerMsg, Tick, decode_server};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// Where B wants to be relative to A's area.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Goal {
    Outside,
    Inside,
}

/// The buttons that take a ship at `from` to within 50 units of `to`
/// (sub-units).
fn towards(from: (u16, u16), to: (u16, u16)) -> u8 {
    let (dx, dy) = (
        i32::from(to.0) - i32::from(from.0),
        i32::from(to.1) - i32::from(from.1),
    );
    let mut b = 0;
    if dx > 400 {
        b |= buttons::RIGHT;
    } else if dx < -400 {
        b |= buttons::LEFT;
    }
    if dy > 400 {
        b |= buttons::DOWN;
    } else if dy < -400 {
        b |= buttons::UP;
    }
    b
}

/// The button that takes a ship at `from` along y towards the arena's
/// farther edge: the area is shortest along y, so that is the quickest way
/// out of another ship's.
fn away(from: (u16, u16)) -> u8 {
    if from.1 > 8000 {
        buttons::UP
    } else {
        buttons::DOWN
    }
}

/// Each ship's position by tick, as its own player's snapshots put it.
type Track = BTreeMap<Tick, (u16, u16)>;

fn own_position(player: &Player) -> Option<(Tick, (u16, u16))> {
    let world = player.view.latest()?;
    let ship = world.ships.get(&player.ship())?;
    Some((world.tick, (ship.state.x, ship.state.y)))
}

#[tokio::test]
async fn a_ship_is_held_exactly_while_it_is_in_the_area_and_leaves_no_ghost() {
    let mut config = test_config();
    config.interest_from_ships = 0;
    let rules: Rules = config.rules();
    let server = TestServer::start(config).await;
    let mut a = Player::join(&server, "a", Some("aoi")).await;
    let mut b = Player::join(&server, "b", Some("aoi")).await;
    let (mut track_a, mut track_b) = (Track::new(), Track::new());
    // A's view of B per tick: None when A did not hold B.
    let mut seen_by_a: BTreeMap<Tick, Option<(u16, u16)>> = BTreeMap::new();
    let plan = [Goal::Outside, Goal::Inside, Goal::Outside, Goal::Inside];
    let mut step = 0;
    let mut transitions = Vec::new();
    // A's way out, chosen once per time it leaves.
    let mut flee = None;
    for _ in 0..1200 {
        a.snapshot().await;
        b.snapshot().await;
        for p in [&a, &b] {
            let world = p.view.latest().expect("held");
            assert!(
                world.ships.contains_key(&p.ship()),
                "own ship missing at {}",
                world.tick
            );
        }
        let (ta, pa) = own_position(&a).expect("a's ship");
        let (tb, pb) = own_position(&b).expect("b's ship");
        track_a.insert(ta, pa);
        track_b.insert(tb, pb);
        let world = a.view.latest().expect("held");
        let held = world.ships.get(&b.ship()).map(|s| (s.state.x, s.state.y));
        seen_by_a.insert(world.tick, held);
        if ta == tb {
            let inside = Camera::interest(&rules, pa.0, pa.1).contains(pb.0, pb.1);
            assert_eq!(
                held.is_some(),
                inside,
                "tick {ta}: held {held:?}, b at {pb:?}"
            );
        }
        let now = if held.is_some() {
            Goal::Inside
        } else {
            Goal::Outside
        };
        if now == plan[step] {
            transitions.push((ta, now));
            step += 1;
        }
        if step == plan.len() {
            break;
        }
        // B comes to A; A leaves B (so A's own area moves away from a ship
        // that stands still: what A held at its baseline must be judged by
        // where A's area was then).
        let (move_a, move_b) = match plan[step] {
            Goal::Inside => {
                flee = None;
                (0, towards(pb, pa))
            }
            Goal::Outside => (*flee.get_or_insert_with(|| away(pa)), 0),
        };
        a.input(move_a, 0).await;
        b.input(move_b, 0).await;
    }
    assert_eq!(step, plan.len(), "reached {transitions:?}");
    // Every tick both saw: held iff inside, and held where B truly was.
    let mut compared = 0;
    for (tick, held) in &seen_by_a {
        let (Some(pa), Some(pb)) = (track_a.get(tick), track_b.get(tick)) else {
            continue;
        };
        let inside = Camera::interest(&rules, pa.0, pa.1).contains(pb.0, pb.1);
        assert_eq!(
            held.is_some(),
            inside,
            "tick {tick}: held {held:?}, b at {pb:?}"
        );
        if let Some(at) = held {
            assert_eq!(at, pb, "tick {tick}: stale position of b");
        }
        compared += 1;
    }
    assert!(
        compared > 30,
        "compared {compared} ticks of {}",
        seen_by_a.len()
    );
    server.stop().await;
}

/// Bytes of snapshot frames one player receives over `ticks` snapshots,
/// and the most ships it held at once.
async fn bytes_over(player: &mut Player, ticks: usize) -> (usize, usize) {
    let (mut bytes, mut most) = (0, 0);
    let mut n = 0;
    while n < ticks {
        let msg = timeout(WAIT, player.socket.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("no socket error");
        let Message::Binary(data) = msg else { continue };
        bytes += data.len();
        let Ok(ServerMsg::Snapshot(s)) = decode_server(&data) else {
            continue;
        };
        let _ = player.view.apply(&s.body);
        most = most.max(player.view.latest().map_or(0, |w| w.ships.len()));
        n += 1;
        player.input(0, 0).await;
    }
    (bytes, most)
}

#[tokio::test]
async fn interest_costs_a_player_far_fewer_bytes_and_small_rooms_send_everything() {
    const BOTS: u16 = 60;
    let mut results = Vec::new();
    for from_ships in [0u16, 64] {
        let mut config = test_config();
        config.bots = BOTS;
        config.interest_from_ships = from_ships;
        let server = TestServer::start(config).await;
        let mut p = Player::join(&server, "p", None).await;
        // Let the bots spread out and the acks settle into deltas.
        bytes_over(&mut p, 30).await;
        results.push(bytes_over(&mut p, 150).await);
        server.stop().await;
    }
    let [(filtered, held_filtered), (whole, held_whole)] = results[..] else {
        unreachable!()
    };
    // 61 ships are below the default threshold of 64: all of them arrive.
    assert_eq!(held_whole, usize::from(BOTS) + 1);
    assert!(
        held_filtered < usize::from(BOTS) / 2,
        "held {held_filtered}"
    );
    assert!(
        filtered * 2 < whole,
        "with interest {filtered} bytes, without {whole}"
    );
}
