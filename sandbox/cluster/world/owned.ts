/**
 * A map of stored objects by `namespace/name` that also indexes them by their controller's uid, so the
 * controllers and renderers find a ReplicaSet's pods or a Deployment's ReplicaSets without scanning every
 * object of the world (which made each request O(workloads × objects) in a large world).
 */
export class OwnedMap<T extends { ownerUid: string }> extends Map<string, T> {
  /** ownerUid → the owned objects by key, in the same order as the map itself holds them. */
  private readonly byOwner = new Map<string, Map<string, T>>();

  override set(k: string, v: T): this {
    const old = super.get(k);
    super.set(k, v);
    if (old !== undefined && old.ownerUid !== v.ownerUid) {
      this.unindex(old.ownerUid, k);
      // The key keeps its place in the map, so the new owner's index is rebuilt in map order.
      this.byOwner.set(v.ownerUid, new Map([...this].filter(([, o]) => o.ownerUid === v.ownerUid)));
      return this;
    }
    let owned = this.byOwner.get(v.ownerUid);
    if (!owned) {
      owned = new Map();
      this.byOwner.set(v.ownerUid, owned);
    }
    owned.set(k, v);
    return this;
  }

  override delete(k: string): boolean {
    const old = super.get(k);
    if (old !== undefined) this.unindex(old.ownerUid, k);
    return super.delete(k);
  }

  override clear(): void {
    this.byOwner.clear();
    super.clear();
  }

  /** The objects whose controller has uid `ownerUid`, in map (insertion) order; a new array. */
  owned(ownerUid: string): T[] {
    const owned = this.byOwner.get(ownerUid);
    return owned ? [...owned.values()] : [];
  }

  private unindex(ownerUid: string, k: string): void {
    const owned = this.byOwner.get(ownerUid);
    owned?.delete(k);
    if (owned?.size === 0) this.byOwner.delete(ownerUid);
  }
}
