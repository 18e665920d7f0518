import type { Executor } from "../db/db.ts";
import type { AccountOwnership } from "./account-owner.ts";
import type { ChannelAnswer, ChannelEnvelope } from "./channel-protocol.ts";

/** One message for the backend: its envelope (with the recipients it is for here) and the raw message. */
export interface DeliveryItem {
  envelope: ChannelEnvelope;
  content: Uint8Array;
}

export interface DeliverBatchOptions {
  /**
   * Called inside the store transaction with every answer that is final by then (all but
   * those waiting on a redirect being submitted): the caller's writes there (the queue
   * outcomes, when this backend is the queue's own process) commit with the mailbox rows.
   */
  onStored?: (tx: Executor, answers: readonly ChannelAnswer[]) => Promise<void>;
  /** Called once that transaction committed (what onStored wrote is then durable). */
  onCommitted?: () => void;
}

/** What local delivery asks of a backend in its own process (BackendDelivery, src/backend/deliver.ts). */
export interface LocalBackend {
  /** Which dynamic accounts this backend holds open (no query needed for those). */
  readonly ownership: Pick<AccountOwnership, "holds">;
  deliverBatch(items: readonly DeliveryItem[], options?: DeliverBatchOptions): Promise<ChannelAnswer[]>;
}

/**
 * The backend running in this very process, if any: local delivery calls it directly instead
 * of going through HTTP to itself. One per member, made by its composition root (Member) and
 * shared through the AppContext; the backend component fills it while it runs.
 */
export class InProcessBackend {
  private backend: LocalBackend | null = null;

  register(backend: LocalBackend): void {
    this.backend = backend;
  }

  unregister(): void {
    this.backend = null;
  }

  /** The backend of this process, or null when it runs none (or it stopped). */
  get(): LocalBackend | null {
    return this.backend;
  }
}
