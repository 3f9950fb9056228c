import { randomFillSync } from 'node:crypto';

/**
 * CSPRNG bytes served from a pooled buffer: one getrandom() per 4 KiB instead of one per code
 * (on VMs a syscall costs more than the rest of a device authorization). Node's randomUUID keeps a
 * cache of CSPRNG output the same way. Bytes are never handed out twice.
 */
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

export function pooledRandomBytes(size: number): Buffer {
  if (size > POOL_SIZE) return randomFillSync(Buffer.alloc(size));
  if (offset + size > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  // A copy, so callers own their bytes and the pool can be refilled under them.
  const bytes = Buffer.from(pool.subarray(offset, offset + size));
  pool.fill(0, offset, offset + size);
  offset += size;
  return bytes;
}
