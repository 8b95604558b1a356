import { describe, expect, it } from 'vitest';
import { visibleWindow } from './virtual';

describe('visibleWindow', () => {
  it('renders nothing for an empty list', () => {
    expect(visibleWindow(0, 0, 500, 50, 5)).toEqual({ start: 0, end: 0 });
  });

  it('renders a screenful plus overscan at the top', () => {
    // 500 px / 50 px = 10 rows in view, one partial, 5 below.
    expect(visibleWindow(10_000, 0, 500, 50, 5)).toEqual({ start: 0, end: 16 });
  });

  it('follows the scroll position in the middle of a long list', () => {
    const w = visibleWindow(10_000, 50 * 4_000 + 20, 500, 50, 5);
    expect(w.start).toBe(3_995);
    expect(w.end).toBe(4_016);
    expect(w.end - w.start).toBeLessThan(30);
  });

  it('never runs past the end, even when scrolled beyond it', () => {
    expect(visibleWindow(100, 50 * 200, 500, 50, 5)).toEqual({ start: 94, end: 100 });
  });

  it('shows all rows of a short list', () => {
    expect(visibleWindow(3, 0, 500, 50, 5)).toEqual({ start: 0, end: 3 });
  });

  it('treats a negative scroll offset (elastic scrolling) as the top', () => {
    expect(visibleWindow(50, -40, 100, 50, 0)).toEqual({ start: 0, end: 3 });
  });
});
