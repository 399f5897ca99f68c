// @ts-check
/**
 * @file The feeds' event names against the Rust table, and every feed
 * vector through the scoreboard's model: each event the server can send
 * parses and does what it says.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { LOGGED_ROOM_EVENTS, RoomEvent, TickerEvent, endsStream } from '../src/feed.js';
import { RoomBoard, TickerBoard } from '../src/standings.js';
import { index, readJson } from '../testing/vectors.js';

/** @param {string} prefix */
const vectorsOf = (prefix) =>
  index.json.filter((name) => name.startsWith(prefix)).map((name) => ({ name, ...readJson(`${name}.json`) }));

/** @param {string} name a feed vector, without `.json` */
const eventOf = (name) => readJson(`${name}.json`);

describe('event names', () => {
  test('the room feed’s are RoomEvent::NAMES, in order', () => {
    assert.deepEqual(Object.values(RoomEvent), index.room_events);
  });

  test('the ticker’s are TickerEvent::NAMES, in order', () => {
    assert.deepEqual(Object.values(TickerEvent), index.ticker_events);
  });

  test('every feed vector names an event of its feed and carries an object', () => {
    const room = vectorsOf('feed_room_');
    const ticker = vectorsOf('feed_ticker_');
    assert.ok(room.length >= index.room_events.length && ticker.length >= index.ticker_events.length);
    for (const [vectors, names] of [
      [room, Object.values(RoomEvent)],
      [ticker, Object.values(TickerEvent)],
    ]) {
      for (const v of vectors) {
        assert.ok(names.includes(v.event), `${v.name}: ${v.event}`);
        assert.equal(typeof v.data, 'object', v.name);
      }
      assert.deepEqual([...new Set(vectors.map((v) => v.event))].sort(), [...names].sort(), 'one vector per event at least');
    }
  });

  test('logged events and stream ends', () => {
    for (const name of LOGGED_ROOM_EVENTS) assert.ok(Object.values(RoomEvent).includes(name));
    assert.ok(endsStream(eventOf('feed_room_closed').event));
    assert.ok(endsStream(eventOf('feed_ticker_shutdown').event));
    assert.ok(!endsStream(RoomEvent.Kill));
  });
});

describe('the golden events through the scoreboard', () => {
  test('a room board takes every room event', () => {
    const board = new RoomBoard('main');
    let id = 100;
    /** @param {string} name */
    const apply = (name) => {
      const { event, data } = eventOf(name);
      const logged = LOGGED_ROOM_EVENTS.has(event) || event === RoomEvent.Snapshot || event === RoomEvent.Reset;
      return board.apply(event, data, logged ? ++id : null, 0);
    };
    assert.ok(apply('feed_room_snapshot'));
    assert.equal(board.tickHz, 30);
    assert.deepEqual([...board.players.keys()].sort(), [1, 3]);
    assert.ok(apply('feed_room_state'));
    assert.equal(board.tick, 744);
    assert.ok(apply('feed_room_join'));
    assert.equal(board.players.get(4)?.name, 'Zoë');
    assert.ok(apply('feed_room_kill'));
    assert.deepEqual([board.kills[0].killerName, board.kills[0].victimName, board.kills[0].weapon], ['Bot 5', 'Ada', 'blaster']);
    assert.ok(apply('feed_room_score'));
    assert.equal(board.players.get(5)?.score, 7);
    assert.ok(apply('feed_room_leave'));
    assert.ok(!board.players.has(2));
    assert.ok(apply('feed_room_round_ended'));
    assert.deepEqual(board.result?.standings.map((s) => s.score), [12, 0]);
    assert.ok(apply('feed_room_round_started'));
    assert.deepEqual(board.round, { number: 2, endsTick: 10801 });
    assert.ok(apply('feed_room_reset'));
    assert.deepEqual([...board.players.keys()].sort(), [1, 3]);
  });

  test('a ticker board takes every ticker event', () => {
    const board = new TickerBoard();
    let id = 500;
    /** @param {string} name */
    const apply = (name) => {
      const { event, data } = eventOf(name);
      return board.apply(event, data, ++id, 0);
    };
    assert.ok(apply('feed_ticker_snapshot'));
    assert.deepEqual(board.top.map((l) => [l.room, l.player]), [['main', 5], ['arena-2', 2]]);
    assert.ok(apply('feed_ticker_score'));
    assert.equal(board.tape[0].name, 'Bot 5');
    assert.ok(apply('feed_ticker_board'));
    assert.ok(apply('feed_ticker_reset'));
  });

  test('a poll page lists the same events with their ids', () => {
    const page = readJson('http_room_page_events.json');
    assert.deepEqual(
      page.events.map((/** @type {any} */ e) => ({ event: e.event, data: e.data })),
      [eventOf('feed_room_kill'), eventOf('feed_room_score')],
    );
    assert.equal(page.next, page.events[page.events.length - 1].id);
    for (const name of ['http_room_page_snapshot', 'http_room_page_reset', 'http_room_page_closed']) {
      const other = readJson(`${name}.json`);
      assert.ok(Array.isArray(other.events) && Number.isInteger(other.next), name);
    }
    assert.deepEqual(readJson('http_room_page_snapshot.json').snapshot, eventOf('feed_room_snapshot').data);
  });
});
