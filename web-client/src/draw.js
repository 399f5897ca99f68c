// @ts-check
/**
 * @file Canvas shapes both the game and the scoreboard draw, so a ship looks
 * the same wherever it is shown.
 */

/**
 * Draws a ship: an arrowhead centred on (x, y), pointing along `angle`.
 * @param {CanvasRenderingContext2D} ctx
 * @param {number} x
 * @param {number} y
 * @param {number} angle radians, 0 along +x, growing towards +y
 * @param {number} size half the ship's width, in the context's units
 * @param {string} color
 */
export function drawShip(ctx, x, y, angle, size, color) {
  ctx.save();
  ctx.translate(x, y);
  ctx.rotate(angle);
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.moveTo(size * 1.3, 0);
  ctx.lineTo(-size * 0.8, size * 0.8);
  ctx.lineTo(-size * 0.4, 0);
  ctx.lineTo(-size * 0.8, -size * 0.8);
  ctx.closePath();
  ctx.fill();
  ctx.restore();
}
