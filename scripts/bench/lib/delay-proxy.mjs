// TCP proxy on loopback that adds a fixed one-way delay in each direction (round trip = 2 x delay),
// standing in for `tc netem`, which this kernel lacks (no sch_netem; only tbf/htb/pfifo/clsact).
// Usage: node delay-proxy.mjs <target-port> <one-way-ms>   (prints "listening <port>" when ready)
// Each connection's first client bytes wait one extra round trip, as a real TCP handshake would make
// the client wait before it can send. Bandwidth is not limited and TCP slow start is not modelled.
import { connect, createServer } from "node:net";

const [targetPort, oneWayArg] = process.argv.slice(2).map(Number);
const oneWay = oneWayArg ?? 10;
const HIGH_WATER = 8 << 20;
const LOW_WATER = 2 << 20;

// Half-open allowed: an end travels through the delay queue like data, so a response followed by the
// server closing its side still reaches the client in full.
const server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  const upstream = connect({ host: "127.0.0.1", port: targetPort, noDelay: true, allowHalfOpen: true });
  const fail = () => { client.destroy(); upstream.destroy(); };
  client.on("error", fail);
  upstream.on("error", fail);
  client.on("close", (hadError) => { if (hadError) fail(); });
  upstream.on("close", (hadError) => { if (hadError) fail(); });
  delayed(client, upstream, 2 * oneWay);
  delayed(upstream, client, 0);
});

/** Forwards src to dst, each chunk delivered `oneWay` ms after it arrived (the first also `firstExtra`). */
function delayed(src, dst, firstExtra) {
  const queue = [];
  let head = 0;
  let queued = 0;
  let lastDue = 0;
  let timer;
  let extra = firstExtra;
  const push = (item) => {
    item.due = Math.max(performance.now() + oneWay + extra, lastDue);
    extra = 0;
    lastDue = item.due;
    queue.push(item);
    if (timer === undefined) schedule();
  };
  const schedule = () => {
    timer = head < queue.length ? setTimeout(flush, Math.max(0, queue[head].due - performance.now())) : undefined;
  };
  const flush = () => {
    const now = performance.now();
    while (head < queue.length && queue[head].due <= now + 0.5) {
      const item = queue[head++];
      if (item.end) dst.end();
      else {
        queued -= item.chunk.length;
        dst.write(item.chunk);
      }
    }
    if (head > 1024) {
      queue.splice(0, head);
      head = 0;
    }
    maybeResume();
    schedule();
  };
  const maybeResume = () => {
    if (src.isPaused() && queued + dst.writableLength < LOW_WATER) src.resume();
  };
  dst.on("drain", maybeResume);
  src.on("data", (chunk) => {
    queued += chunk.length;
    push({ chunk });
    if (queued + dst.writableLength > HIGH_WATER) src.pause();
  });
  src.on("end", () => push({ end: true }));
}

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
