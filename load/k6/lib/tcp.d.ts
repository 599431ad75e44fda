// Types of k6/x/tcp, netlab's own k6 extension (load/k6/xk6/tcp/tcp.go).
declare module 'k6/x/tcp' {
  /** A duration such as "2s" or "500ms", or a number of milliseconds. */
  export type Timeout = string | number;

  export interface Options {
    timeout?: Timeout;
  }

  export interface Connection {
    /** Sends the whole string or buffer; returns the bytes written. */
    write(data: string | ArrayBuffer, options?: Options): number;
    /** Exactly `n` bytes; throws on timeout or when the peer closes first. */
    read(n: number, options?: Options): ArrayBuffer;
    /** Writes `data`, reads as many bytes back, records tcp_rtt; true if they came back unchanged. */
    roundTrip(data: string | ArrayBuffer, options?: Options): boolean;
    /** Half-close: sends FIN, reading still works. */
    closeWrite(): void;
    close(): void;
  }

  /** Opens a connection to "host:port"; only inside an iteration, not in the init context. */
  export function connect(address: string, options?: Options): Connection;
}
