// Which rows of a fixed-row-height list are in view (unit-tested in
// virtual.test.ts).

export type Window = { start: number; end: number };

/**
 * The half-open range of row indices to render for a list of `count` rows of
 * `rowHeight` px scrolled to `scrollTop` in a body `viewHeight` px tall, with
 * `overscan` extra rows on each side so fast scrolling shows no gaps.
 */
export function visibleWindow(
  count: number,
  scrollTop: number,
  viewHeight: number,
  rowHeight: number,
  overscan: number,
): Window {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const top = Math.max(0, scrollTop);
  const first = Math.min(count - 1, Math.floor(top / rowHeight));
  const inView = Math.ceil(Math.max(0, viewHeight) / rowHeight) + 1;
  return {
    start: Math.max(0, first - overscan),
    end: Math.min(count, first + inView + overscan),
  };
}
