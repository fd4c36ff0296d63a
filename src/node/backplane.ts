/**
 * A backplane carries published messages between server processes (on one machine or many), so that a
 * `publish` on any of them reaches the topic's subscribers on all of them. The server keeps its own
 * subscribers and delivers to them itself; the backplane only moves messages between servers and tells
 * each server about the topics it has subscribers for.
 */

/** What a server offers the backplane it was given. */
export interface BackplaneNode {
  /** A message published on another server: deliver it to this server's subscribers of `topic`. */
  deliver(topic: string, payload: Buffer, binary: boolean): void;
  /** The topics that have subscribers here now (to subscribe again after the broker came back). */
  localTopics(): Iterable<string>;
  /** Subscribers of `topic` on this server. */
  localSubscriberCount(topic: string): number;
}

/**
 * Carries `publish` between server processes, so that a topic's subscribers on every server get its
 * messages (the `backplane` option of `WebSocketServer`; `RedisBackplane` from fullduplex/redis is one).
 */
export interface Backplane {
  /** Called once, by the server the backplane is given to, before anything else. */
  attach(node: BackplaneNode): void;
  /** The first subscriber of `topic` on this server arrived: start receiving the topic's messages. */
  subscribe(topic: string): void;
  /** The last subscriber of `topic` on this server left: stop receiving them. */
  unsubscribe(topic: string): void;
  /**
   * Send a message published on this server to the others (never back to this one: the server has
   * delivered it here already). Resolves once the broker has it; rejects when it cannot be handed over
   * (broker unreachable), so that the caller knows: a publish is never dropped silently.
   */
  publish(topic: string, payload: Buffer, binary: boolean): Promise<void>;
  /** Subscribers of `topic` on all servers; may be approximate (see the implementation). */
  subscriberCount(topic: string): Promise<number>;
  /** Stop: unsubscribe everything and disconnect from the broker. */
  close(): Promise<void>;
}
