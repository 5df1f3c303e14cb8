import type { Model } from '@gemba/core';
import type { OrderPort, ProductionOrder } from './runtime.ts';

/**
 * Production orders held in memory, seeded from the model's `orders:`. The API uses it when
 * the runtime brings no order service of its own; an MES pushes orders into it through
 * `POST /api/orders` or a CSV import.
 */
export class OrderBook implements OrderPort {
  readonly #orders = new Map<string, ProductionOrder>();

  constructor(model?: Model) {
    for (const o of model?.orders ?? []) this.#orders.set(o.id, { ...o, status: 'planned' });
  }

  list(): ProductionOrder[] {
    return [...this.#orders.values()].sort(
      (a, b) => (a.plannedStart ?? '').localeCompare(b.plannedStart ?? '') || a.id.localeCompare(b.id),
    );
  }

  upsert(orders: readonly ProductionOrder[]): (ProductionOrder | undefined)[] {
    return orders.map((o) => {
      const prev = this.#orders.get(o.id);
      this.#orders.set(o.id, { ...o });
      return prev;
    });
  }

  current(line: string): ProductionOrder | undefined {
    return this.list().find((o) => o.line === line && o.status === 'running');
  }
}
