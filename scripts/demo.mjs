// The first thing to run (npm run demo): archive with wal-archive into a local store, drop a table by
// mistake, recover a copy to the restore point before it with wal-restore, and check the data.
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, chmodSync, chownSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(REPO, "bin");
const AS_ROOT = process.getuid?.() === 0;
const cleanups = [];
let step = 0;

const say = (text) => console.log(text);
const title = (text) => say(`\n[${++step}] ${text}`);

main().then(
  (ok) => finish(ok ? 0 : 1),
  (error) => {
    console.error(`\ndemo: FAILED: ${error.message}`);
    finish(1);
  },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => finish(130));

async function main() {
  const pgBin = findPgBin();
  const work = mkdtempSync("/tmp/wal-native-demo-");
  cleanups.push(() => {
    stopPrefetchWorkers(work);
    rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });
  if (AS_ROOT) {
    const { uid, gid } = postgresIds();
    chownSync(work, uid, gid);
    // runuser -u postgres must be able to reach our launchers and node.
    if (run("test", ["-x", join(BIN, "wal-archive")], { check: false }).status !== 0) {
      throw new Error(`the postgres user cannot execute ${BIN}/wal-archive; make the path readable (chmod o+rx on its parents)`);
    }
  }
  chmodSync(work, 0o755);
  const store = mkdir(join(work, "store"));
  const env = {
    WALG_FILE_PREFIX: store, // the same layout wal-g uses: <store>/wal_005/<segment>.lz4
    WALNATIVE_LOCAL_ARCHIVE: "", // off, so every file is provably restored from the store
    WALNATIVE_ARCHIVE_LOG: join(work, "wal-archive.log"),
    WALNATIVE_RESTORE_LOG: join(work, "wal-restore.log"),
  };
  say(`wal-native demo: PostgreSQL ${pgVersion(pgBin)} in ${work} (${AS_ROOT ? "clusters run as the postgres user" : "clusters run as you"})`);
  say(`  store: WALG_FILE_PREFIX=${store}`);

  title("create a cluster that archives with wal-archive");
  const primary = { data: join(work, "primary"), port: await freePort(), log: join(work, "primary.log") };
  run(join(pgBin, "initdb"), ["-D", primary.data, "-U", "postgres", "-A", "trust", "--locale=C", "-E", "UTF8", "--no-sync"]);
  appendConf(primary.data, {
    listen_addresses: "", unix_socket_directories: work, fsync: "off", wal_level: "replica",
    archive_mode: "on", archive_command: `${BIN}/wal-archive %p %f`,
  });
  startCluster(pgBin, primary, env, work);
  say(`  archive_command = '${BIN}/wal-archive %p %f'`);

  title("write data and take a base backup (pg_basebackup, WAL from the archive only)");
  sql(pgBin, primary, work, `create table accounts (id int primary key, owner text, balance numeric);
    insert into accounts select g, 'owner ' || g, g * 10 from generate_series(1, 1000) g;`);
  const backup = { data: join(work, "recovered"), port: await freePort(), log: join(work, "recovered.log") };
  run(join(pgBin, "pg_basebackup"), ["-h", work, "-p", String(primary.port), "-U", "postgres", "-D", backup.data, "-X", "none", "--no-sync"]);
  say(`  base backup in ${backup.data}`);

  title("more writes, then a restore point");
  sql(pgBin, primary, work, "insert into accounts select g, 'late owner ' || g, 1 from generate_series(1001, 1005) g;");
  const before = sql(pgBin, primary, work, "select count(*) || ' rows, balance ' || sum(balance) from accounts;");
  const point = sql(pgBin, primary, work, "select pg_create_restore_point('before_mistake');");
  say(`  accounts: ${before}`);
  say(`  restore point 'before_mistake' at LSN ${point}`);

  title("the mistake: a row written after the restore point, then DROP TABLE accounts");
  sql(pgBin, primary, work, "insert into accounts values (9999, 'after the restore point', 0); drop table accounts;");
  const gone = sql(pgBin, primary, work, "select count(*) from pg_tables where tablename = 'accounts';");
  say(`  tables named accounts now: ${gone}`);
  const last = sql(pgBin, primary, work, "select pg_walfile_name(pg_switch_wal());");
  waitFor(() => sql(pgBin, primary, work, "select last_archived_wal from pg_stat_archiver;") >= last, `${last} to be archived`);
  stopCluster(pgBin, primary);
  const objects = readdirSync(join(store, "wal_005")).sort();
  say(`  archived up to ${last}; primary stopped. The store holds ${objects.length} objects, e.g. wal_005/${objects[0]}`);

  title("recover the backup to 'before_mistake' (wal-native restore-prepare, then start)");
  const prepared = run(join(BIN, "wal-native"), ["restore-prepare", backup.data, "--target-name", "before_mistake",
    "--target-action", "promote", "--pg-bin", pgBin]);
  for (const line of prepared.stderr.split("\n").filter((l) => / set |wrote /.test(l))) say(`  ${line.replace(/^wal-native restore-prepare: /, "")}`);
  startCluster(pgBin, backup, env, work);
  waitFor(() => sql(pgBin, backup, work, "select not pg_is_in_recovery();") === "t", "recovery to finish and promote");
  const restored = readFileSync(env.WALNATIVE_RESTORE_LOG, "utf8").split("\n").filter((l) => / restored /.test(l)).length;
  say(`  recovered and promoted; wal-restore restored ${restored} WAL files from the store`);

  title("check: the data as it was at the restore point");
  const after = sql(pgBin, backup, work, "select count(*) || ' rows, balance ' || sum(balance) from accounts;");
  const late = sql(pgBin, backup, work, "select count(*) from accounts where id = 9999;");
  say(`  before the mistake: ${before}`);
  say(`  recovered:          ${after}`);
  say(`  row written after the restore point present: ${late === "0" ? "no" : "YES"}`);
  stopCluster(pgBin, backup);
  const ok = after === before && late === "0";
  say(ok ? "\nCHECK PASSED: the dropped table is back with exactly the rows of the restore point"
    : "\nCHECK FAILED: the recovered data differs from the data at the restore point");
  return ok;
}

/** wal-restore's prefetch worker and wal-archive's uploader outlive their cluster by up to 30 s: stop them first. */
function stopPrefetchWorkers(root) {
  const pidFiles = readdirSync(root, { recursive: true })
    .filter((path) => String(path).endsWith("prefetch/worker.pid") || String(path).endsWith(".wal-native/uploader.pid"));
  for (const file of pidFiles) {
    try {
      process.kill(Number(readFileSync(join(root, String(file)), "utf8").trim()), "SIGKILL");
    } catch {
      // already gone
    }
  }
}

function finish(code) {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      cleanup();
    } catch (error) {
      console.error(`demo: cleanup: ${error.message}`);
    }
  }
  process.exit(code);
}

/** Runs as the postgres user when we are root (PostgreSQL refuses to run as root), else as ourselves. */
function run(cmd, args, { env = {}, check = true, input } = {}) {
  const base = { PATH: [BIN, dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"), LANG: "C.UTF-8" };
  const full = { ...base, ...(AS_ROOT ? { HOME: "/var/lib/postgresql" } : { HOME: process.env.HOME ?? "/tmp" }), ...env };
  const vars = Object.entries(full).map(([k, v]) => `${k}=${v}`);
  const [file, argv] = AS_ROOT ? ["runuser", ["-u", "postgres", "--", "env", "-i", ...vars, cmd, ...args]] : ["env", ["-i", ...vars, cmd, ...args]];
  const result = spawnSync(file, argv, { encoding: "utf8", input: input ?? "" });
  if (check && result.status !== 0) {
    throw new Error(`${cmd.split("/").pop()} ${args.join(" ")} exited ${result.status}\n${result.stderr}${result.stdout}`);
  }
  return result;
}

function sql(pgBin, cluster, socketDir, text) {
  const out = run(join(pgBin, "psql"), ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", socketDir, "-p", String(cluster.port),
    "-U", "postgres", "-d", "postgres", "-f", "-"], { input: text });
  return out.stdout.trim();
}

function startCluster(pgBin, cluster, env, socketDir) {
  cleanups.push(() => stopCluster(pgBin, cluster, "immediate"));
  const started = run(join(pgBin, "pg_ctl"), ["-D", cluster.data, "-l", cluster.log, "-w", "-t", "120",
    "-o", `-p ${cluster.port} -k ${socketDir}`, "start"], { env, check: false });
  if (started.status !== 0) throw new Error(`pg_ctl start failed:\n${tail(cluster.log)}`);
}

function stopCluster(pgBin, cluster, mode = "fast") {
  if (!existsSync(join(cluster.data, "postmaster.pid"))) return;
  run(join(pgBin, "pg_ctl"), ["-D", cluster.data, "-m", mode, "-w", "stop"], { check: false });
}

function waitFor(condition, what, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (condition()) return;
    } catch {
      // not yet (e.g. the server is still starting)
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    spawnSync("sleep", ["0.2"]);
  }
}

function appendConf(dataDir, settings) {
  const lines = Object.entries(settings).map(([k, v]) => `${k} = '${String(v).replaceAll("'", "''")}'`).join("\n");
  run("sh", ["-c", `printf '%s\\n' "$1" >> "$2"`, "sh", lines, join(dataDir, "postgresql.conf")]);
}

function mkdir(path) {
  run("mkdir", ["-m", "0700", path]);
  return path;
}

function tail(file) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

function postgresIds() {
  const id = (flag) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    throw new Error("running as root needs a 'postgres' OS user to run the clusters (PostgreSQL refuses root)");
  }
}

/** PG_BIN, else pg_config --bindir, else the newest /usr/lib/postgresql/<major>/bin. */
function findPgBin() {
  const candidates = [process.env.PG_BIN];
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim());
  } catch {
    // no pg_config on PATH
  }
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    for (const major of readdirSync(debian).sort((a, b) => Number(b) - Number(a))) candidates.push(join(debian, major, "bin"));
  }
  for (const dir of candidates) {
    if (!dir) continue;
    try {
      accessSync(join(dir, "initdb"), constants.X_OK);
      accessSync(join(dir, "pg_basebackup"), constants.X_OK);
      return dir;
    } catch {
      // incomplete or absent
    }
  }
  throw new Error("PostgreSQL binaries (initdb, pg_ctl, pg_basebackup, psql) not found; set PG_BIN=/path/to/postgresql/bin");
}

function pgVersion(pgBin) {
  return execFileSync(join(pgBin, "postgres"), ["--version"], { encoding: "utf8" }).trim().replace(/^postgres \(PostgreSQL\) /, "");
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}
