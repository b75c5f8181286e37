/**
 * ProducerIdAllocator: hands out idempotent-producer ids for InitProducerId. Ids are reserved
 * from the metadata store in blocks, so a restart (or another broker) never reuses one and the
 * store sees one write per block, not per producer.
 */
import type { MetadataStore } from './metadata/index.ts';

const BLOCK = 1000;

export class ProducerIdAllocator {
  private readonly store: MetadataStore;
  private next = 0n;
  private end = 0n;
  private refill: Promise<void> | null = null;

  constructor(store: MetadataStore) { this.store = store; }

  async allocate(): Promise<bigint> {
    while (this.next >= this.end) {
      this.refill ??= this.store.allocateProducerIds(BLOCK).then((first) => {
        this.next = first;
        this.end = first + BigInt(BLOCK);
      }).finally(() => { this.refill = null; });
      await this.refill;
    }
    return this.next++;
  }
}
