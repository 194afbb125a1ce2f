// The targets the bench judges, met or missed, from one run's results (ratios within the run only). A target
// whose rows did not run (skipped peer, failed scenario) is "n/a" with the reason; a peer that is absent is left
// out of a comparison, and the row says so.

const NET = { loopback: "loopback", rtt20: "20 ms RTT" };
const PEERS = [["wal-g", "wal-g"], ["pgbackrest", "pgBackRest"]];

function ran(row) {
  return row && !row.error && !row.skipped;
}

function find(rows, match) {
  return rows.find((row) => Object.entries(match).every(([k, v]) => row[k] === v) && ran(row));
}

const ratio = (a, b) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
const times = (value) => `${value.toFixed(2)}×`;
/** How far over the limit, in whole percent, or with one decimal below 10 % so that "by 0 %" never appears. */
const percent = (value, limit) => {
  const over = (value / limit - 1) * 100;
  return `${over < 9.95 ? over.toFixed(1) : Math.round(over)} %`;
};

/**
 * One target over several comparisons: checks = [{ name, value, limit, show }] where value <= limit meets it.
 * Comparisons whose value is undefined (a peer absent) are listed as n/a and do not decide.
 */
function compound(measure, target, checks) {
  const known = checks.filter((c) => c.value !== undefined);
  const measured = checks.map((c) => (c.show === "" ? c.name : `${c.name} ${c.value === undefined ? "n/a" : c.show ?? times(c.value)}`)).join(", ");
  if (known.length === 0) return { measure, target, measured: measured || "n/a", met: "n/a" };
  const missed = known.filter((c) => !(c.value <= c.limit));
  return {
    measure, target, measured,
    met: missed.length === 0 ? "yes" : `no (${missed.map((c) => c.miss ?? `${c.name} by ${percent(c.value, c.limit)}`).join("; ")})`,
  };
}

export function targets(r) {
  const out = [];
  const archiveRows = r.archive ?? [];
  const restoreRows = r.restore ?? [];
  const pgRows = (r.pgArchive ?? []).filter((row) => (row.minioData ?? "disk") === "disk");

  // Recovery against the floor and the peers.
  for (const row of restoreRows.filter((x) => x.tool === "ours" && ran(x))) {
    const floor = find(restoreRows, { n: row.n, tool: "cp" })?.wallMs;
    const peer = (tool) => find(restoreRows, { n: row.n, net: row.net, codec: row.codec, tool })?.wallMs;
    const floorLimit = row.codec === "brotli" ? 1.10 : 1.05;
    out.push(compound(`recovery through ${row.n}, ${NET[row.net]}, ${row.codec}: ours / cp floor, / wal-g, / pgBackRest async`,
      `≤ ${floorLimit.toFixed(2)}×, ≤ 0.6×, ≤ 0.8×`, [
        { name: "cp", value: ratio(row.wallMs, floor), limit: floorLimit },
        { name: "wal-g", value: ratio(row.wallMs, peer("wal-g")), limit: 0.6 },
        { name: "pgBackRest", value: ratio(row.wallMs, peer("pgbackrest")), limit: 0.8 },
      ]));
  }

  // PostgreSQL's archiver: how far behind at most, alone and against the peers.
  for (const row of pgRows.filter((x) => x.tool === "ours" && ran(x))) {
    for (const load of row.loads) {
      const most = load.load === "init" ? 4 : 2;
      const peerMost = (tool) => find(pgRows, { net: row.net, codec: row.codec, tool })?.loads.find((l) => l.load === load.load)?.maxReady;
      const fewer = (name, theirs) => ({
        name: `${name} ${theirs ?? "n/a"}`, value: theirs === undefined ? undefined : load.maxReady < theirs || load.maxReady <= 1 ? 0 : 1, limit: 0, show: "",
        miss: `not fewer than ${name} (${load.maxReady} against ${theirs})`,
      });
      out.push(compound(`${load.load === "init" ? `pgbench -i -s ${row.scale}` : "TPC-B"}, ${NET[row.net]}, ${row.codec}: most .ready at once, ours against wal-g and pgBackRest async`,
        `≤ ${most}, and fewer than both (1 is the least any tool can show)`, [
          { name: "ours", value: load.maxReady, limit: most, show: String(load.maxReady), miss: `ours ${load.maxReady} > ${most}` },
          ...PEERS.map(([tool, name]) => fewer(name, peerMost(tool))),
        ]));
    }
  }

  // CPU per segment against the peers, same codec, every scenario where both ran.
  const cpuRow = (measure, ours, peerValue) => {
    if (ours === undefined) return;
    out.push(compound(`CPU per segment, ${measure}: ours / wal-g, / pgBackRest`, "≤ 1.0× each",
      PEERS.map(([tool, name]) => ({ name, value: ratio(ours, peerValue(tool)), limit: 1 }))));
  };
  for (const row of archiveRows.filter((x) => x.tool === "ours" && x.net === "loopback" && x.n === r.n && ran(x))) {
    cpuRow(`archive N = ${row.n}, ${row.codec}`, row.cpuMsPerSegment, (tool) => find(archiveRows, { n: row.n, net: "loopback", codec: row.codec, tool })?.cpuMsPerSegment);
  }
  for (const row of (r.rearchive ?? []).filter((x) => x.tool === "ours" && ran(x))) {
    cpuRow(`re-archive, ${row.codec}`, row.cpuMsPerSegment, (tool) => find(r.rearchive, { codec: row.codec, tool })?.cpuMsPerSegment);
  }
  for (const row of restoreRows.filter((x) => x.tool === "ours" && ran(x))) {
    cpuRow(`recovery through ${row.n}, ${NET[row.net]}, ${row.codec}`, row.cpuMsPerSegment,
      (tool) => find(restoreRows, { n: row.n, net: row.net, codec: row.codec, tool })?.cpuMsPerSegment);
  }
  for (const row of pgRows.filter((x) => x.tool === "ours" && ran(x))) {
    for (const load of row.loads) {
      cpuRow(`PostgreSQL archiving ${load.load === "init" ? "pgbench -i" : "TPC-B"}, ${NET[row.net]}, ${row.codec}`, load.cpuMsPerSegment,
        (tool) => find(pgRows, { net: row.net, codec: row.codec, tool })?.loads.find((l) => l.load === load.load)?.cpuMsPerSegment);
    }
  }
  for (const row of (r.standby ?? []).filter((x) => x.tool === "ours" && ran(x))) {
    for (const role of ["primary", "standby"]) {
      cpuRow(`standby scenario, the ${role}'s archiver, ${row.codec}`, row.load.byRole[role]?.cpuMsPerSegment,
        (tool) => find(r.standby, { codec: row.codec, tool })?.load.byRole[role]?.cpuMsPerSegment);
    }
  }

  // Duplicates cost no more than a first push (wall and CPU), and the standby keeps up like a primary.
  for (const row of (r.rearchive ?? []).filter((x) => x.tool === "ours" && ran(x))) {
    const first = find(archiveRows, { n: row.n, net: "loopback", codec: row.codec, tool: "ours" });
    const walg = find(r.rearchive, { codec: row.codec, tool: "wal-g" });
    out.push(compound(`re-archive of N = ${row.n} already archived, ${row.codec}: ours against its first push (wall, CPU), and / wal-g (wall)`,
      "≤ 1.0×, ≤ 1.0×, ≤ 0.8×", [
        { name: "wall", value: ratio(row.wallMs, first?.wallMs), limit: 1 },
        { name: "CPU", value: ratio(row.cpuMsPerSegment, first?.cpuMsPerSegment), limit: 1 },
        { name: "wal-g", value: ratio(row.wallMs, walg?.wallMs), limit: 0.8 },
      ]));
  }
  for (const row of (r.standby ?? []).filter((x) => x.tool === "ours" && ran(x))) {
    const mine = row.load.byRole.standby;
    if (!mine) continue;
    const peerMost = (tool) => find(r.standby, { codec: row.codec, tool })?.load.byRole.standby?.maxReady;
    out.push(compound(`standby archiving the primary's WAL, pgbench -i -s ${row.scale}, ${row.codec}: most .ready at once on the standby`,
      "≤ 4, and fewer than wal-g and pgBackRest async", [
        { name: "ours", value: mine.maxReady, limit: 4, show: String(mine.maxReady), miss: `ours ${mine.maxReady} > 4` },
        ...PEERS.map(([tool, name]) => {
          const theirs = peerMost(tool);
          return { name: `${name} ${theirs ?? "n/a"}`, value: theirs === undefined ? undefined : mine.maxReady < theirs || mine.maxReady <= 1 ? 0 : 1, limit: 0, show: "",
            miss: `not fewer than ${name} (${mine.maxReady} against ${theirs})` };
        }),
      ]));
  }

  // Memory: the largest process of ours anywhere.
  const peak = largestOurs(r);
  out.push({ measure: "peak RSS of any one wal-native process", target: "≤ 100 MB",
    measured: peak ? `${(peak.kb / 1024).toFixed(0)} MB (${peak.where})` : "n/a",
    met: peak ? (peak.kb / 1024 <= 100 ? "yes" : `no (by ${Math.round(peak.kb / 1024 - 100)} MB)`) : "n/a" });

  // Earlier targets that still hold: the bench's own archiver against wal-g, and the fast paths.
  for (const [net, codec, limit] of [["loopback", "lz4", 0.8], ["loopback", "brotli", 0.8], ["rtt20", "lz4", 0.5]]) {
    const ours = find(archiveRows, { n: r.n, net, codec, tool: "ours" })?.wallMs;
    const walg = find(archiveRows, { n: r.n, net, codec, tool: "wal-g" })?.wallMs;
    if (ours !== undefined) out.push(compound(`archive N = ${r.n}, ${NET[net]}, ${codec}: ours / wal-g`, `≤ ${limit}×`, [{ name: "wal-g", value: ratio(ours, walg), limit }]));
  }
  const node = (r.fastPath ?? []).find((f) => f.key === "node")?.medianMs;
  for (const row of (r.fastPath ?? []).filter((f) => f.key !== "node" && !f.error)) {
    out.push(compound(`fast path: ${row.label} / node -e 0`, "≤ 1.3×", [{ name: "node -e 0", value: ratio(row.medianMs, node), limit: 1.3 }]));
  }
  return out;
}

/** Our largest peak RSS of one process, and where: the scenario and the process. */
export function largestOurs(r) {
  let best;
  const consider = (row, where) => {
    if (!row?.peakRssKb || (best && best.kb >= row.peakRssKb)) return;
    best = { kb: row.peakRssKb, where: `${where}, ${row.peakWhere}` };
  };
  for (const row of (r.archive ?? []).filter((x) => x.tool === "ours" && ran(x))) consider(row, `archive ${row.n} ${NET[row.net]} ${row.codec}`);
  for (const row of (r.rearchive ?? []).filter((x) => x.tool === "ours" && ran(x))) consider(row, `re-archive ${row.codec}`);
  for (const row of (r.restore ?? []).filter((x) => x.tool === "ours" && ran(x))) consider(row, `recovery ${row.n} ${NET[row.net]} ${row.codec}`);
  for (const row of (r.pgArchive ?? []).filter((x) => x.tool === "ours" && ran(x))) consider(row, `PostgreSQL archiving ${NET[row.net]} ${row.codec}`);
  for (const row of (r.standby ?? []).filter((x) => x.tool === "ours" && ran(x))) {
    for (const [role, facts] of Object.entries(row.rss ?? {})) consider(facts, `standby scenario ${row.codec}, ${role}`);
  }
  return best;
}
