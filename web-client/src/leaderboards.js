// @ts-check
/**
 * @file Draws a leaderboard (`records.js`'s view) into a page: its rows,
 * its empty line, and its panel hidden when the server keeps no records.
 * Shared by the lobby (this week and all time) and the scoreboard (this
 * week). DOM only; the fetching and checking are in `records.js`.
 */

import { leaderboardNote } from './records.js';

/**
 * @param {string} tag
 * @param {string} className
 * @param {string} [text]
 */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Fills `list` with the view's lines and `empty` with its note.
 * @param {{ list: HTMLElement, empty: HTMLElement }} where
 * @param {import('./records.js').LeaderboardView} view
 * @param {string} none what the empty line says when nobody is on it
 */
export function drawLeaderboard({ list, empty }, view, none) {
  const note = leaderboardNote(view, none);
  empty.textContent = note;
  empty.hidden = note === '';
  list.replaceChildren(
    ...(view.kind === 'lines' ? view.lines : []).map((line) => {
      const row = el('li', '');
      row.title = `${line.kills} kills, ${line.deaths} deaths, ${line.wins} wins in ${line.rounds} rounds`;
      const name = el('span', 'name', line.name);
      name.append(el('small', '', `${line.wins} W · ${line.deaths} D · ${line.rounds} R`));
      row.append(el('span', 'rank', String(line.rank)), el('i', 'swatch'), name, el('span', 'move'), el('b', 'score', String(line.kills)));
      return row;
    }),
  );
}
