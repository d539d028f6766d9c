// The stores @fastify/rate-limit ships but does not type.
declare module '@fastify/rate-limit/store/*.js' {
  type Callback = (err: Error | null, result: { current: number; ttl: number }) => void;
  class Store {
    constructor(...args: unknown[]);
    incr(key: string, callback: Callback, timeWindow: number, max: number): void;
  }
  export default Store;
}
