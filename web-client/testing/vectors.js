// @ts-check
/**
 * @file Reads the golden vectors the Rust side writes to `shared/vectors/`.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const VECTORS = fileURLToPath(new URL('../../shared/vectors/', import.meta.url));

/** @param {string} name file name inside the vectors directory */
export function readJson(name) {
  return JSON.parse(readFileSync(VECTORS + name, 'utf8'));
}

/** @param {string} name file name inside the vectors directory */
export function readBytes(name) {
  return new Uint8Array(readFileSync(VECTORS + name));
}

/** @type {{ protocol_version: number, max_client_frame: number, max_server_frame: number,
 *   max_name_len: number, max_room_id_len: number,
 *   max_inputs_per_request: number, max_events_per_page: number, default_poll_timeout_secs: number,
 *   messages: { name: string, side: 'client' | 'server', bytes: number }[],
 *   json: string[], room_events: string[], ticker_events: string[],
 *   trajectories: string[] }} */
export const index = readJson('index.json');
