import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { beforeAll, describe, it, type TestFunction, TestRunner } from 'vitest';

// Real storage faults for tests that run services as processes: a small tmpfs that can be filled to
// the last byte, and read-only bind mounts (root ignores file modes, a read-only mount it cannot).
// Needs root (mount/umount). Every mount is recorded so `cleanupDisks()` can undo them after a
// failed test too. Tests that mount are declared with `describeMounting` and `itMounting`: where this
// process cannot mount they are skipped with one line on stderr saying so, and under CI they fail.

const mounted: string[] = [];
const made: string[] = [];

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Mounts and unmounts once with `mountArgs`; undefined when that works, otherwise why not. */
function probe(mountArgs: (dir: string) => string[]): string | undefined {
  if (process.platform !== 'linux') return `mounting needs Linux, this is ${process.platform}`;
  const uid = process.getuid?.();
  if (uid !== 0) return `mounting needs root, this run is uid ${uid}`;
  const dir = mkdtempSync(join(tmpdir(), 'titanium-probe-'));
  try {
    run('mount', mountArgs(dir));
    run('umount', [dir]);
    return undefined;
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').replaceAll(`${dir}: `, '');
    return stderr.trim().split('\n')[0] || (err as Error).message;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.img`, { force: true });
  }
}

/** What a test mounts: a tmpfs, or an ext4 image through a loop device. */
export type MountKind = 'tmpfs' | 'ext4';

const MOUNTS: Record<MountKind, { what: string; probe: () => string | undefined }> = {
  tmpfs: {
    what: 'a tmpfs',
    probe: () => probe((dir) => ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]),
  },
  ext4: {
    what: 'an ext4 image through a loop device',
    probe: () =>
      mountProblem('tmpfs') ??
      probe((dir) => {
        const image = `${dir}.img`;
        run('truncate', ['-s', String(4 * 1024 * 1024), image]);
        run('mkfs.ext4', ['-q', '-F', image]);
        return ['-o', 'loop', image, dir];
      }),
  },
};

const problems = new Map<MountKind, string | undefined>();
/**
 * Why this process cannot mount `kind` (checked once, by mounting a tiny one), or undefined when it
 * can: it needs root on Linux with the capability to mount, which a container may deny to root.
 */
export function mountProblem(kind: MountKind): string | undefined {
  if (!problems.has(kind)) problems.set(kind, MOUNTS[kind].probe());
  return problems.get(kind);
}

/** True when this process can mount file systems (a tmpfs). */
export function canMount(): boolean {
  return mountProblem('tmpfs') === undefined;
}

/** True when an ext4 image can be formatted and mounted through a loop device here. */
export function canMountExt4(): boolean {
  return mountProblem('ext4') === undefined;
}

/** True when the CI environment variable is set (to anything but empty, 0 or false). */
function underCi(): boolean {
  const ci = process.env.CI?.trim().toLowerCase();
  return ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false';
}

function cannot(kind: MountKind): string | undefined {
  const problem = mountProblem(kind);
  return problem === undefined ? undefined : `cannot mount ${MOUNTS[kind].what} (${problem})`;
}

function ciFailure(why: string): Error {
  return new Error(`${why}; with CI set, tests that mount file systems must run, not be skipped`);
}

/** The tests skipped, by reason, in the `describeMounting` block being collected. */
let current: Map<string, number> | undefined;

/** One line on stderr: the file, how many of the tests in `scope` it skipped, and why. */
function reportSkipped(skipped: ReadonlyMap<string, number>, of: number, scope: string): void {
  const count = [...skipped.values()].reduce((sum, n) => sum + n, 0);
  if (count === 0) return;
  const file = TestRunner.getCurrentSuite().file?.filepath;
  const where = file ? relative(process.cwd(), file) : 'a test file';
  const why = [...skipped.keys()].join('; ');
  process.stderr.write(`${where}: skipped ${count} of ${of} ${of === 1 ? 'test' : 'tests'} in "${scope}": ${why}\n`);
}

/**
 * `describe` for tests that mount `kind`. Where this process cannot, its tests are skipped and one
 * line on stderr says which file skipped how many of the block's tests and why (counting the tests
 * declared directly in it, `itMounting` ones included); with the CI environment variable set they
 * fail instead, so a CI run cannot pass without them.
 */
export function describeMounting(kind: MountKind, title: string, factory: () => void): void {
  const why = cannot(kind);
  const skipping = why !== undefined && !underCi();
  const collect = () => {
    const outer = current;
    current = new Map();
    try {
      if (why !== undefined && !skipping) {
        beforeAll(() => {
          throw ciFailure(why);
        });
      }
      factory();
      const tests = TestRunner.getCurrentSuite().tasks.filter((task) => task.type === 'test').length;
      reportSkipped(skipping && why !== undefined ? new Map([[why, tests]]) : current, tests, title);
    } finally {
      current = outer;
    }
  };
  if (skipping) describe.skip(title, collect);
  else describe(title, collect);
}

/**
 * `it` for a test that mounts `kind`: skipped where this process cannot mount it, and then failing
 * under CI. Inside a `describeMounting` block the skip is in the block's line; on its own it gets
 * a line of its own.
 */
export function itMounting(kind: MountKind, title: string, fn: TestFunction, timeout?: number): void {
  const why = cannot(kind);
  if (why === undefined) {
    it(title, fn, timeout);
  } else if (underCi()) {
    it(title, () => {
      throw ciFailure(why);
    });
  } else {
    it.skip(title, fn, timeout);
    if (current) current.set(why, (current.get(why) ?? 0) + 1);
    else reportSkipped(new Map([[why, 1]]), 1, title);
  }
}

/** Free bytes on the file system holding `path`, as an unprivileged writer would see them. */
export function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return stats.bavail * stats.bsize;
}

export interface SmallDisk {
  /** The mount point. */
  dir: string;
  /**
   * Fills the disk with a ballast file until only about `leaveBytes` are free (rounded to the file
   * system's block size). Calling it again adds to the ballast.
   */
  fill(leaveBytes?: number): void;
  /** Deletes the ballast, so the space is there again. */
  free(): void;
  /** Unmounts it and removes the mount point. */
  unmount(): void;
}

/** Mounts a tmpfs of `sizeBytes` in a new temporary directory. */
export function mountSmallDisk(sizeBytes: number): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), 'titanium-disk-'));
  made.push(dir);
  run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir]);
  mounted.push(dir);
  let ballast = 0;
  const ballastPath = (n: number) => join(dir, `.ballast-${n}`);
  return {
    dir,
    fill(leaveBytes = 0) {
      const fd = openSync(ballastPath(ballast++), 'w');
      const chunk = Buffer.alloc(64 * 1024);
      try {
        for (;;) {
          const left = freeBytes(dir) - leaveBytes;
          if (left <= 0) break;
          try {
            writeSync(fd, chunk, 0, Math.min(chunk.length, left));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw err;
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      for (let n = 0; n < ballast; n++) rmSync(ballastPath(n), { force: true });
      ballast = 0;
    },
    unmount() {
      unmountPath(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Ext4Disk {
  /** The mount point. */
  dir: string;
  /**
   * Aborts the file system the way the kernel does on a fatal error: from then on it is read-only for
   * every process, including files already open for writing (which a read-only remount refuses).
   * Only unmounting ends it.
   */
  abort(): void;
  /** Unmounts it (lazily when files are still open) and deletes the image. */
  unmount(): void;
}

/** Formats an ext4 image of `sizeBytes` and mounts it through a loop device in a new directory. */
export function mountExt4Disk(sizeBytes: number): Ext4Disk {
  const dir = mkdtempSync(join(tmpdir(), 'titanium-ext4-'));
  made.push(dir);
  const image = `${dir}.img`;
  run('truncate', ['-s', String(sizeBytes), image]);
  made.push(image);
  run('mkfs.ext4', ['-q', '-F', image]);
  run('mount', ['-o', 'loop,errors=remount-ro', image, dir]);
  mounted.push(dir);
  return {
    dir,
    abort: () => run('mount', ['-o', 'remount,abort', dir]),
    unmount() {
      unmountPath(dir);
      rmSync(image, { force: true });
    },
  };
}

export interface ReadOnlyMount {
  /** The path, now read-only for every process (root included). */
  path: string;
  /** Makes it writable again (the bind mount goes away). */
  restore(): void;
}

/**
 * Makes the directory `path` read-only for every process, root included, by bind-mounting it onto
 * itself and remounting that read-only. Open files stay open; new writes fail with EROFS.
 */
export function makeReadOnly(path: string): ReadOnlyMount {
  run('mount', ['--bind', path, path]);
  mounted.push(path);
  try {
    run('mount', ['-o', 'remount,ro,bind', path]);
  } catch (err) {
    unmountPath(path);
    throw err;
  }
  return { path, restore: () => unmountPath(path) };
}

function unmountPath(path: string): void {
  const index = mounted.lastIndexOf(path);
  if (index === -1) return;
  try {
    run('umount', [path]);
  } catch {
    // Busy (a process still has files open there): detach it now, the kernel frees it later.
    run('umount', ['-l', path]);
  }
  mounted.splice(index, 1);
}

/** A fresh directory on the ordinary temporary file system, removed by `cleanupDisks()`. */
export function scratchDir(prefix = 'titanium-fault-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Undoes every mount made here (newest first) and removes the directories; for afterEach/afterAll. */
export function cleanupDisks(): void {
  while (mounted.length > 0) {
    const path = mounted[mounted.length - 1] as string;
    try {
      unmountPath(path);
    } catch {
      mounted.pop();
    }
  }
  while (made.length > 0) rmSync(made.pop() as string, { recursive: true, force: true });
}
