import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Real storage faults for tests that run services as processes: a small tmpfs that can be filled to
// the last byte, and read-only bind mounts (root ignores file modes, a read-only mount it cannot).
// Needs root (mount/umount). Every mount is recorded so `cleanupDisks()` can undo them after a
// failed test too.

const mounted: string[] = [];
const made: string[] = [];

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function probe(mountArgs: (dir: string) => string[]): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const dir = mkdtempSync(join(tmpdir(), 'titanium-probe-'));
  try {
    run('mount', mountArgs(dir));
    run('umount', [dir]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.img`, { force: true });
  }
}

let tmpfsWorks: boolean | undefined;
/**
 * True when this process can mount file systems: root on Linux, with the capability to mount
 * (a container may deny it to root), checked by mounting a tiny tmpfs once.
 */
export function canMount(): boolean {
  tmpfsWorks ??= probe((dir) => ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  return tmpfsWorks;
}

let loopWorks: boolean | undefined;
/** True when an ext4 image can be formatted and mounted through a loop device here. */
export function canMountExt4(): boolean {
  loopWorks ??=
    canMount() &&
    probe((dir) => {
      const image = `${dir}.img`;
      run('truncate', ['-s', String(4 * 1024 * 1024), image]);
      run('mkfs.ext4', ['-q', '-F', image]);
      return ['-o', 'loop', image, dir];
    });
  return loopWorks;
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
