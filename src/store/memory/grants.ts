import type { Clock } from '../../domain/clock.js';
import { systemClock } from '../../domain/clock.js';
import { type Decision, type DecisionOutcome, decideGrant, decidePoll, type PollOutcome } from '../../domain/poll-policy.js';
import { type DeviceGrant, retentionMs } from '../../domain/device-grant.js';
import type { DeviceGrantRepository } from '../../domain/grant-repository.js';

interface Entry {
  grant: DeviceGrant;
  /** When the grant (and its user-code index) disappears: expiry plus tombstone. */
  evictAt: number;
}

/**
 * The embedded default: `npm start` works with nothing else running. Single process only; state is
 * lost on restart. Expiry follows the injected clock, so tests move time instead of sleeping.
 */
export class MemoryDeviceGrantRepository implements DeviceGrantRepository {
  private readonly byDeviceCodeHash = new Map<string, Entry>();
  private readonly deviceCodeHashByUserCode = new Map<string, string>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly clock: Clock = systemClock, sweepEveryMs = 60_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  async create(grant: DeviceGrant, now: number): Promise<boolean> {
    const taken = this.liveEntryByUserCode(grant.userCode);
    if (taken) return false;
    this.byDeviceCodeHash.set(grant.deviceCodeHash, { grant: frozenCopy(grant), evictAt: now + retentionMs(grant, now) });
    this.deviceCodeHashByUserCode.set(grant.userCode, grant.deviceCodeHash);
    return true;
  }

  async findByUserCode(userCode: string): Promise<DeviceGrant | null> {
    const entry = this.liveEntryByUserCode(userCode);
    return entry ? entry.grant : null;
  }

  async findByDeviceCodeHash(deviceCodeHash: string): Promise<DeviceGrant | null> {
    const entry = this.liveEntry(deviceCodeHash);
    return entry ? entry.grant : null;
  }

  // Atomic by construction: no await between reading and writing the entry.
  async poll(deviceCodeHash: string, clientId: string, now: number): Promise<PollOutcome> {
    const entry = this.liveEntry(deviceCodeHash);
    const { outcome, next } = decidePoll(entry?.grant ?? null, clientId, now);
    if (entry && next) entry.grant = frozenCopy(next);
    return outcome.kind === 'approved' && entry ? { kind: 'approved', grant: entry.grant } : outcome;
  }

  async decide(userCode: string, decision: Decision, now: number): Promise<DecisionOutcome> {
    const entry = this.liveEntryByUserCode(userCode);
    const { outcome, next } = decideGrant(entry?.grant ?? null, decision, now);
    if (entry && next) entry.grant = frozenCopy(next);
    return outcome;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private liveEntryByUserCode(userCode: string): Entry | undefined {
    const deviceCodeHash = this.deviceCodeHashByUserCode.get(userCode);
    return deviceCodeHash === undefined ? undefined : this.liveEntry(deviceCodeHash);
  }

  private liveEntry(deviceCodeHash: string): Entry | undefined {
    const entry = this.byDeviceCodeHash.get(deviceCodeHash);
    if (!entry) return undefined;
    if (entry.evictAt <= this.clock.now()) {
      this.evict(deviceCodeHash, entry);
      return undefined;
    }
    return entry;
  }

  private evict(deviceCodeHash: string, entry: Entry): void {
    this.byDeviceCodeHash.delete(deviceCodeHash);
    if (this.deviceCodeHashByUserCode.get(entry.grant.userCode) === deviceCodeHash) {
      this.deviceCodeHashByUserCode.delete(entry.grant.userCode);
    }
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [hash, entry] of this.byDeviceCodeHash) if (entry.evictAt <= now) this.evict(hash, entry);
  }
}

/**
 * Stored grants are frozen snapshots, handed out as they are: nobody can change stored state through
 * a returned object, and reads cost no copy (structuredClone per read and write dominated the memory
 * store's profile under load). Parts that are already frozen (a poll's next state shares the stored
 * grant's scope, resource and requester) are kept, not copied again.
 */
function frozenCopy(grant: DeviceGrant): DeviceGrant {
  return Object.freeze({
    ...grant,
    scope: frozen(grant.scope, (scope) => [...scope]),
    resource: frozen(grant.resource, (resource) => [...resource]),
    requester: frozen(grant.requester, (requester) => ({ ...requester })),
  });
}

const frozen = <T extends object>(value: T, copy: (value: T) => T): T => (Object.isFrozen(value) ? value : Object.freeze(copy(value)));
