// The first thing to run (npm run demo): archive with wal-archive into a local store, drop a table by
// mistake, recover a copy to the restore point before it with wal-restore, and check the data.
// PostgreSQL 16 comes from the npm package postgres-bin-16 (initdb, pg_ctl, postgres): no system
// PostgreSQL, no psql and no pg_basebackup are needed. SQL goes through the pg client; the base backup
// uses PostgreSQL's low-level backup API. PG_BIN=<dir> runs other binaries (PostgreSQL 13 or later).
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, chmodSync, chownSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

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

  title("write data and take a base backup (low-level backup API, WAL from the archive only)");
  await sql(primary, work, `create table accounts (id int primary key, owner text, balance numeric);
    insert into accounts select g, 'owner ' || g, g * 10 from generate_series(1, 1000) g;`);
  const backup = { data: join(work, "recovered"), port: await freePort(), log: join(work, "recovered.log") };
  const backupLsn = await baseBackup(primary, work, backup.data);
  say(`  base backup in ${backup.data} (pg_backup_start, copy, pg_backup_stop: ends at LSN ${backupLsn})`);

  title("more writes, then a restore point");
  await sql(primary, work, "insert into accounts select g, 'late owner ' || g, 1 from generate_series(1001, 1005) g;");
  const before = await sql(primary, work, "select count(*) || ' rows, balance ' || sum(balance) from accounts;");
  const point = await sql(primary, work, "select pg_create_restore_point('before_mistake');");
  say(`  accounts: ${before}`);
  say(`  restore point 'before_mistake' at LSN ${point}`);

  title("the mistake: a row written after the restore point, then DROP TABLE accounts");
  await sql(primary, work, "insert into accounts values (9999, 'after the restore point', 0); drop table accounts;");
  const gone = await sql(primary, work, "select count(*) from pg_tables where tablename = 'accounts';");
  say(`  tables named accounts now: ${gone}`);
  const last = await sql(primary, work, "select pg_walfile_name(pg_switch_wal());");
  await waitFor(async () => (await sql(primary, work, "select last_archived_wal from pg_stat_archiver;")) >= last, `${last} to be archived`);
  stopCluster(pgBin, primary);
  const objects = readdirSync(join(store, "wal_005")).sort();
  say(`  archived up to ${last}; primary stopped. The store holds ${objects.length} objects, e.g. wal_005/${objects[0]}`);

  title("recover the backup to 'before_mistake' (wal-native restore-prepare, then start)");
  const prepared = run(join(BIN, "wal-native"), ["restore-prepare", backup.data, "--target-name", "before_mistake",
    "--target-action", "promote", "--pg-bin", pgBin]);
  for (const line of prepared.stderr.split("\n").filter((l) => / set |wrote /.test(l))) say(`  ${line.replace(/^wal-native restore-prepare: /, "")}`);
  startCluster(pgBin, backup, env, work);
  await waitFor(async () => (await sql(backup, work, "select not pg_is_in_recovery();")) === "t", "recovery to finish and promote")
    .catch((error) => { throw new Error(`${error.message}\n${tail(backup.log)}`); });
  const restored = readFileSync(env.WALNATIVE_RESTORE_LOG, "utf8").split("\n").filter((l) => / restored /.test(l)).length;
  say(`  recovered and promoted; wal-restore restored ${restored} WAL files from the store`);

  title("check: the data as it was at the restore point");
  const after = await sql(backup, work, "select count(*) || ' rows, balance ' || sum(balance) from accounts;");
  const late = await sql(backup, work, "select count(*) from accounts where id = 9999;");
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
      // "<pid> <boot id> <start time>" (src/daemon/identity.ts): the pid is the first word.
      process.kill(Number(readFileSync(join(root, String(file)), "utf8").split(" ")[0]), "SIGKILL");
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

/** Runs SQL over the cluster's socket (pg client, like psql -At): the last statement's rows, "|"-joined columns. */
async function sql(cluster, socketDir, text) {
  // Every value as PostgreSQL's text form, as psql prints it ("t", not true).
  const types = { getTypeParser: () => (value) => value };
  const client = new pg.Client({ host: socketDir, port: cluster.port, user: "postgres", database: "postgres", types });
  await client.connect();
  try {
    const results = [await client.query({ text, rowMode: "array" })].flat();
    return (results.at(-1)?.rows ?? []).map((row) => row.join("|")).join("\n");
  } finally {
    await client.end();
  }
}

/**
 * A base backup without pg_basebackup: pg_backup_start (pg_start_backup before PostgreSQL 15), a copy of
 * the data directory without pg_wal's contents and the server's runtime files, pg_backup_stop, whose
 * backup_label goes into the copy. The connection stays open in between (a non-exclusive backup).
 * Returns the stop LSN; recovery needs the WAL up to it, which the stop call waited to be archived.
 */
async function baseBackup(cluster, socketDir, dest) {
  const client = new pg.Client({ host: socketDir, port: cluster.port, user: "postgres", database: "postgres" });
  await client.connect();
  try {
    const modern = Number((await client.query("select current_setting('server_version_num') as v")).rows[0].v) >= 150000;
    await client.query(modern ? "select pg_backup_start('wal-native demo', true)" : "select pg_start_backup('wal-native demo', true, false)");
    run("cp", ["-a", cluster.data, dest]);
    run("sh", ["-c", 'cd "$1" && rm -f postmaster.pid postmaster.opts && find pg_wal -mindepth 1 -maxdepth 1 ! -name archive_status -exec rm -rf {} + && rm -f pg_wal/archive_status/*', "sh", dest]);
    const stop = await client.query(modern ? "select lsn::text, labelfile from pg_backup_stop(true)" : "select lsn::text, labelfile from pg_stop_backup(false, true)");
    run("sh", ["-c", 'umask 077 && cat > "$1"', "sh", join(dest, "backup_label")], { input: stop.rows[0].labelfile });
    return stop.rows[0].lsn;
  } finally {
    await client.end();
  }
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

async function waitFor(condition, what, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await condition()) return;
    } catch {
      // not yet (e.g. the server is still starting)
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 200));
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

/** PG_BIN, else PostgreSQL 16 from the npm package postgres-bin-16 (a devDependency npm ci installs). */
function findPgBin() {
  const dir = process.env.PG_BIN || join(REPO, "node_modules", "postgres-bin-16", "native", "bin");
  for (const name of ["initdb", "pg_ctl", "postgres"]) {
    try {
      accessSync(join(dir, name), constants.X_OK);
    } catch {
      throw new Error(`${join(dir, name)} not found: run npm ci (it installs PostgreSQL 16 from npm), or set PG_BIN=/path/to/postgresql/bin`);
    }
  }
  return dir;
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
