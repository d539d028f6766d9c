import { describe, expect, it } from 'vitest';
import { Ring } from '../../src/messaging/ring.js';

function contents<T>(ring: Ring<T>): T[] {
  const out: T[] = [];
  for (let i = 0; i < ring.size; i++) out.push(ring.at(i) as T);
  return out;
}

describe('Ring', () => {
  it('refuses a capacity below 1 or not an integer', () => {
    expect(() => new Ring(0)).toThrow(/capacity of 1 or more/);
    expect(() => new Ring(-3)).toThrow(/capacity of 1 or more/);
    expect(() => new Ring(2.5)).toThrow(/capacity of 1 or more/);
    expect(() => new Ring(Number.NaN)).toThrow(/capacity of 1 or more/);
    expect(new Ring(1).capacity).toBe(1);
  });

  it('holds at most its capacity, dropping the oldest and counting each one dropped', () => {
    const ring = new Ring<number>(3);
    const dropped = [1, 2, 3, 4, 5, 6, 7].map((n) => ring.push(n));
    expect(dropped).toEqual([0, 0, 0, 1, 1, 1, 1]);
    expect(ring.size).toBe(3);
    expect(contents(ring)).toEqual([5, 6, 7]);
    expect(ring.at(-1)).toBeUndefined();
    expect(ring.at(3)).toBeUndefined();
  });

  it('takes oldest first, at most what it holds, and wraps around its slots', () => {
    const ring = new Ring<number>(4);
    for (let n = 1; n <= 6; n++) ring.push(n);
    expect(ring.take(3)).toEqual([3, 4, 5]);
    ring.push(7);
    ring.push(8);
    expect(ring.take(10)).toEqual([6, 7, 8]);
    expect(ring.size).toBe(0);
    expect(ring.take(2)).toEqual([]);
    ring.push(9);
    expect(contents(ring)).toEqual([9]);
  });

  it('puts taken entries back ahead of those that came since, in their order', () => {
    const ring = new Ring<number>(5);
    for (let n = 1; n <= 4; n++) ring.push(n);
    const taken = ring.take(3);
    ring.push(5);
    expect(ring.putBack(taken)).toBe(0);
    expect(contents(ring)).toEqual([1, 2, 3, 4, 5]);
    expect(ring.take(5)).toEqual([1, 2, 3, 4, 5]);
  });

  it('drops the oldest of what is put back when it no longer fits, and says how many', () => {
    const ring = new Ring<number>(4);
    for (let n = 1; n <= 4; n++) ring.push(n);
    const taken = ring.take(4);
    ring.push(5);
    ring.push(6);
    ring.push(7);
    // Room for one: only the newest taken entry (4) goes back in.
    expect(ring.putBack(taken)).toBe(3);
    expect(contents(ring)).toEqual([4, 5, 6, 7]);
    // A full ring takes nothing back.
    expect(ring.putBack([0, 1])).toBe(2);
    expect(contents(ring)).toEqual([4, 5, 6, 7]);
  });
});
