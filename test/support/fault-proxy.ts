// A fault-injecting HTTP proxy between our tools and MinIO: error statuses, resets, stalls, truncated
// bodies, wrong Content-Length, rewritten ETags. Every request is logged so tests count retries.
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Transform, type TransformCallback } from "node:stream";

export type FaultAction =
  /** Answer with this status and an S3 error document; with afterForward, only after MinIO has done the work (a lost ack). */
  | { kind: "status"; status: number; code: string; afterForward?: boolean }
  /** A 200 whose body is an S3 error document (S3 may answer CompleteMultipartUpload so). */
  | { kind: "error-200"; code: string }
  /** Reset the client's connection (TCP RST) instead of answering. */
  | { kind: "reset" }
  /** Never answer; the connection stays open. */
  | { kind: "stall" }
  /** Send the headers and the first bytes of the body, then go silent. */
  | { kind: "stall-body"; afterBytes: number }
  /** Send the headers and the first bytes of the body, then close the connection. */
  | { kind: "truncate"; afterBytes: number }
  /** Declare Content-Length off by delta: shorter sends only what is declared; longer closes after the real body. */
  | { kind: "content-length"; delta: number }
  /** Forward, but replace the ETag of the answer. */
  | { kind: "etag"; etag: string }
  /** Forward the request with one byte of its body changed (at this offset): damage on the way to the server. */
  | { kind: "corrupt-request"; at: number }
  /**
   * Forward the request's body up to a point, call `reached`, and forward nothing more (neither the rest of the
   * body nor the server's answer) until `release` resolves: a moment to kill the client at, found by an event
   * rather than a delay. `at` is a fraction of the body's Content-Length (0: before any of it), or "answer": the
   * whole body was forwarded and the server has answered, but the client has not heard it. A client gone before its
   * request was complete leaves the server's request cut as well.
   */
  | { kind: "hold"; at: number | "answer"; reached: () => void; release: Promise<void> };

export interface FaultRule {
  readonly method?: string;
  /** Tested against the path (bucket and key, URL-decoded). */
  readonly path?: RegExp;
  /** Tested against the query string without "?", e.g. /uploadId=.*partNumber=/. */
  readonly query?: RegExp;
  /** How many matching requests get the fault; unlimited when absent. */
  times?: number;
  readonly action: FaultAction;
}

export interface ProxyLogEntry {
  readonly at: number; // ms since the proxy started
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly fault: string | undefined;
  /** The request's x-amz-content-sha256 (a hex SHA-256, or UNSIGNED-PAYLOAD). */
  readonly payloadHash: string | undefined;
  status?: number;
}

export class FaultProxy {
  readonly log: ProxyLogEntry[] = [];
  private rules: FaultRule[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly started = performance.now();

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
    readonly endpoint: string,
  ) {}

  /** Listens on a free 127.0.0.1 port and forwards to target (http://host:port). */
  static async start(target: string): Promise<FaultProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const proxy = new FaultProxy(server, new URL(target), `http://127.0.0.1:${port}`);
    server.on("request", (req, res) => proxy.handle(req, res));
    server.on("connection", (socket: Socket) => {
      proxy.sockets.add(socket);
      socket.on("close", () => proxy.sockets.delete(socket));
    });
    return proxy;
  }

  /** Adds a rule; rules are tried in the order added, the first matching one with times left applies. */
  inject(rule: FaultRule): this {
    this.rules.push({ ...rule });
    return this;
  }

  /** Removes every rule and forgets the log. */
  reset(): void {
    this.rules = [];
    this.log.length = 0;
  }

  requests(filter: { method?: string; path?: RegExp; query?: RegExp } = {}): ProxyLogEntry[] {
    return this.log.filter(
      (entry) =>
        (!filter.method || entry.method === filter.method) &&
        (!filter.path || filter.path.test(entry.path)) &&
        (!filter.query || filter.query.test(entry.query)),
    );
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://proxy");
    const method = req.method ?? "GET";
    const path = decodeURIComponent(url.pathname);
    const query = url.search.replace(/^\?/, "");
    const rule = this.rules.find(
      (r) =>
        (r.times === undefined || r.times > 0) &&
        (!r.method || r.method === method) &&
        (!r.path || r.path.test(path)) &&
        (!r.query || r.query.test(query)),
    );
    if (rule?.times !== undefined) rule.times -= 1;
    const entry: ProxyLogEntry = { at: Math.round(performance.now() - this.started), method, path, query, fault: rule?.action.kind,
      payloadHash: req.headers["x-amz-content-sha256"] as string | undefined };
    this.log.push(entry);
    res.on("finish", () => (entry.status = res.statusCode));
    const action = rule?.action;
    if (!action) return this.forward(req, res, (up) => passThrough(up, res));
    switch (action.kind) {
      case "reset":
        req.socket.resetAndDestroy();
        return;
      case "stall":
        req.resume();
        return;
      case "status":
        if (action.afterForward) return this.forward(req, res, (up) => up.resume().once("end", () => errorReply(res, method, path, action.status, action.code)));
        req.resume().once("end", () => errorReply(res, method, path, action.status, action.code));
        return;
      case "error-200":
        req.resume().once("end", () => errorReply(res, method, path, 200, action.code));
        return;
      case "etag":
        return this.forward(req, res, (up) => passThrough(up, res, { etag: action.etag }));
      case "stall-body":
      case "truncate":
        return this.forward(req, res, (up) => cutBody(up, res, action.afterBytes, action.kind === "truncate"));
      case "content-length":
        return this.forward(req, res, (up) => wrongLength(up, res, action.delta));
      case "corrupt-request":
        return this.forward(req, res, (up) => passThrough(up, res), (body) => {
          if (body.length > action.at) body[action.at]! ^= 0x01;
          return body;
        });
      case "hold":
        return this.hold(req, res, action);
    }
  }

  private hold(req: IncomingMessage, res: ServerResponse, action: Extract<FaultAction, { kind: "hold" }>): void {
    const length = Number(req.headers["content-length"] ?? 0);
    const stopAt = action.at === "answer" ? Number.POSITIVE_INFINITY : Math.floor(action.at * length);
    const upstream = httpRequest(
      { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (action.at !== "answer") return passThrough(up, res);
        action.reached();
        void action.release.then(() => passThrough(up, res));
      },
    );
    upstream.on("error", () => res.socket?.destroy());
    req.once("close", () => {
      if (!req.complete) upstream.destroy();
    });
    if (stopAt <= 0) {
      action.reached();
      void action.release.then(() => req.pipe(upstream));
      return;
    }
    let forwarded = 0;
    const gate = new Transform({
      transform(chunk: Buffer, _encoding, done: TransformCallback) {
        const before = forwarded;
        forwarded += chunk.length;
        if (before >= stopAt || forwarded < stopAt) return done(null, chunk);
        this.push(chunk.subarray(0, stopAt - before));
        action.reached();
        void action.release.then(() => done(null, chunk.subarray(stopAt - before)));
      },
    });
    req.pipe(gate).pipe(upstream);
  }

  private forward(
    req: IncomingMessage, res: ServerResponse, respond: (upstream: IncomingMessage) => void, alter?: (body: Buffer) => Buffer,
  ): void {
    const upstream = httpRequest(
      { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers },
      respond,
    );
    upstream.on("error", () => res.socket?.destroy());
    if (!alter) return void req.pipe(upstream);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => upstream.end(alter(Buffer.concat(chunks))));
  }
}

function passThrough(up: IncomingMessage, res: ServerResponse, replace: { etag?: string } = {}): void {
  const headers = { ...up.headers };
  if (replace.etag !== undefined) headers["etag"] = replace.etag;
  res.writeHead(up.statusCode ?? 502, headers);
  up.pipe(res);
}

/** Sends the first bytes under the real Content-Length, then closes the connection or leaves it silent. */
function cutBody(up: IncomingMessage, res: ServerResponse, afterBytes: number, close: boolean): void {
  res.writeHead(up.statusCode ?? 502, up.headers);
  let sent = 0;
  up.on("data", (chunk: Buffer) => {
    if (sent >= afterBytes) return;
    const piece = chunk.subarray(0, afterBytes - sent);
    sent += piece.length;
    res.write(piece);
    if (sent >= afterBytes) {
      up.destroy();
      if (close) setTimeout(() => res.socket?.destroy(), 50);
    }
  });
}

function wrongLength(up: IncomingMessage, res: ServerResponse, delta: number): void {
  const chunks: Buffer[] = [];
  up.on("data", (chunk: Buffer) => chunks.push(chunk));
  up.on("end", () => {
    const body = Buffer.concat(chunks);
    const declared = Math.max(0, body.length + delta);
    res.writeHead(up.statusCode ?? 502, { ...up.headers, "content-length": String(declared) });
    if (delta < 0) {
      res.end(body.subarray(0, declared));
    } else {
      res.write(body);
      setTimeout(() => res.socket?.destroy(), 50);
    }
  });
}

function errorReply(res: ServerResponse, method: string, path: string, status: number, code: string): void {
  const body =
    method === "HEAD"
      ? ""
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by the fault proxy</Message>` +
        `<Resource>${path}</Resource><RequestId>FAULTPROXY</RequestId></Error>`;
  res.writeHead(status, { "content-type": "application/xml", "content-length": String(Buffer.byteLength(body)), "x-amz-request-id": "FAULTPROXY" });
  res.end(body);
}
