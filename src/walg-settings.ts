// Every setting wal-g v3.0.9 reads (internal/config/config.go and pkg/storages/*/configure.go; `wal-g flags`
// prints the PostgreSQL ones), with what wal-native does with it. One table for three readers: the refusal
// at start (refuseUnsupportedSettings, every command and worker), the test that goes through the list, and
// the documentation (docs/WALG-SETTINGS.md, written from it by scripts/walg-settings-doc.mjs; the README
// lists the refused ones). A setting that would change the bytes or the place of objects and that wal-native
// does not implement is refused (exit 78) rather than ignored: wal-g with that setting could not read what we
// write, or we could not read what it wrote.
import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { ConfigError } from "./errors.js";

export type Treatment = "supported" | "refused" | "ignored";

export interface WalgSetting {
  /** The name wal-g documents. */
  readonly name: string;
  /** Other names wal-g reads for the same setting (S3 settings: K, WALG_K, WALE_K). */
  readonly aliases: readonly string[];
  readonly group: string;
  readonly treatment: Treatment;
  /** Supported: what it does here. Refused: what it would change. Ignored: why neither bytes nor place depend on it. */
  readonly reason: string;
  /** Refused settings: the values that change nothing (wal-g's default), which are accepted. */
  readonly harmless?: Harmless;
}

export interface Harmless {
  /** For the documentation: "NOMETADATA". */
  readonly values: string;
  test(value: string): boolean;
}

type Options = { aliases?: readonly string[]; harmless?: Harmless };

function entries(group: string, treatment: Treatment, names: readonly string[], reason: string, options: Options = {}): WalgSetting[] {
  return names.map((name) => ({ name, aliases: options.aliases ?? [], group, treatment, reason, harmless: options.harmless }));
}

/**
 * A storage setting K is read as K, then WALG_K, then WALE_K (internal/storage_adapter.go loadSettings): the
 * documented name is WALG_K for S3_* settings, K itself for the others (AWS_*, OSS_*, ...).
 */
function storage(group: string, treatment: Treatment, keys: readonly string[], reason: string, options: Options = {}): WalgSetting[] {
  return keys.map((key) => {
    const name = key.startsWith("S3_") ? `WALG_${key}` : key;
    const aliases = [key, `WALG_${key}`, `WALE_${key}`].filter((alias) => alias !== name);
    return { name, aliases, group, treatment, reason, harmless: options.harmless };
  });
}

const FALSE: Harmless = { values: "false", test: (value) => ["0", "f", "false", "no", "off"].includes(value.trim().toLowerCase()) };
const only = (harmless: string): Harmless => ({ values: harmless, test: (value) => value.trim() === harmless });
const BACKUPS = "used by wal-g's base backups (backup-push, backup-fetch, delete) only, never by wal-push or wal-fetch";
const OTHER_STORAGE = "a setting of a storage wal-native does not write to (its prefix is refused)";

/**
 * The refused settings, apart from the rest of the table: every command checks them at start, so they are all
 * it builds then (the whole table costs about 4 ms more to load, measured on this machine under load).
 */
const REFUSED: readonly WalgSetting[] = [
  ...["OSS", "GS", "AZ", "SWIFT", "SSH"].flatMap((kind) =>
    entries("storage", "refused", [`WALG_${kind}_PREFIX`], "another storage: wal-native writes to S3 and filesystem storage only, and wal-g would archive to this one", {
      aliases: [`WALE_${kind}_PREFIX`],
    }),
  ),
  ...entries("storage", "refused", ["WALG_FAILOVER_STORAGES"], "failover storages: wal-g would archive to whichever storage is alive"),
  ...entries("storage", "refused", ["WALG_TARGET_STORAGE"], "a failover storage as the target of every command", { harmless: only("default") }),
  ...entries("encryption", "refused", ["GPG_KEY_ID"], "encryption through an external gpg keyring (deprecated in wal-g)", { aliases: ["WALG_GPG_KEY_ID", "WALE_GPG_KEY_ID"] }),
  ...entries("encryption", "refused", ["WALG_ENVELOPE_PGP_KEY", "WALG_ENVELOPE_PGP_KEY_PATH"], "envelope OpenPGP encryption with a key held in Yandex Cloud KMS"),
  ...entries("encryption", "refused", ["WALG_CSE_KMS_ID"], "client-side encryption with an AWS KMS data key"),
  ...entries("encryption", "refused", ["YC_CSE_KMS_KEY_ID"], "client-side encryption with a Yandex Cloud KMS key"),
  ...entries("WAL", "refused", ["WALG_UPLOAD_WAL_METADATA"], "wal-g would write a .json object beside each WAL object", { harmless: { values: "NOMETADATA", test: (value) => value === "NOMETADATA" } }),
  ...entries("WAL", "refused", ["WALG_USE_WAL_DELTA"], "wal-g would write _delta objects beside the WAL for incremental backups", { harmless: FALSE }),
  ...entries("config file", "refused", ["WALG_CONFIG_PATH"], "a wal-g config file: wal-native reads settings from the environment only, and would miss the ones in the file"),
  ...storage("S3", "refused", ["S3_ENDPOINT_SOURCE"], "a balancer bypass: wal-g asks this URL for the S3 node to send each request to"),
  ...storage("S3", "refused", ["S3_REQUEST_ADDITIONAL_HEADERS"], "extra headers on every request, which can change how objects are stored"),
  ...storage("S3", "refused", ["S3_RETENTION_PERIOD"], "object lock retention on every upload", { harmless: only("-1") }),
];

/** Everything else, built on demand: for the documentation and the tests, never at start. */
function notRefused(): WalgSetting[] {
    const CORE: WalgSetting[] = [
    ...entries("storage", "supported", ["WALG_S3_PREFIX"], "S3 storage: s3://bucket/path", { aliases: ["WALE_S3_PREFIX"] }),
    ...entries("storage", "supported", ["WALG_FILE_PREFIX"], "filesystem storage in wal-g's on-disk layout", { aliases: ["WALE_FILE_PREFIX"] }),
    ...entries("storage", "supported", ["WALG_STORAGE_PREFIX"], "sub-folder under the storage prefix"),
    ...entries(
      "storage",
      "ignored",
      [
        "WALG_FAILOVER_STORAGES_CHECK",
        "WALG_FAILOVER_STORAGES_CHECK_TIMEOUT",
        "WALG_FAILOVER_STORAGES_CHECK_SIZE",
        "WALG_FAILOVER_STORAGES_CACHE_LIFETIME",
        "WALG_FAILOVER_STORAGES_CACHE_EMA_ALIVE_LIMIT",
        "WALG_FAILOVER_STORAGES_CACHE_EMA_DEAD_LIMIT",
        "WALG_FAILOVER_STORAGES_CACHE_EMA_ALPHA_ALIVE_MAX",
        "WALG_FAILOVER_STORAGES_CACHE_EMA_ALPHA_ALIVE_MIN",
        "WALG_FAILOVER_STORAGES_CACHE_EMA_ALPHA_DEAD_MAX",
        "WALG_FAILOVER_STORAGES_CACHE_EMA_ALPHA_DEAD_MIN",
      ],
      "tunes failover storages only (WALG_FAILOVER_STORAGES is refused)",
    ),

    ...entries("encryption", "supported", ["WALG_LIBSODIUM_KEY"], "libsodium encryption of WAL objects, as wal-g (secretstream XChaCha20-Poly1305)"),
    ...entries("encryption", "supported", ["WALG_LIBSODIUM_KEY_PATH"], "the libsodium key from a file (surrounding white space trimmed)"),
    ...entries("encryption", "supported", ["WALG_LIBSODIUM_KEY_TRANSFORM"], "none (default), hex or base64"),
    ...entries("encryption", "supported", ["WALG_PGP_KEY"], "OpenPGP encryption of WAL objects to the armored key (line breaks may be written \\n)"),
    ...entries("encryption", "supported", ["WALG_PGP_KEY_PATH"], "the armored OpenPGP key from a file"),
    ...entries("encryption", "supported", ["WALG_PGP_KEY_PASSPHRASE"], "unlocks the private OpenPGP key for restores"),
    ...entries(
      "encryption",
      "ignored",
      ["WALG_ENVELOPE_PGP_YC_CSE_KMS_KEY_ID", "WALG_ENVELOPE_PGP_YC_SERVICE_ACCOUNT_KEY_FILE", "WALG_ENVELOPE_PGP_YC_ENDPOINT", "WALG_ENVELOPE_CACHE_EXPIRATION"],
      "tunes envelope encryption only (WALG_ENVELOPE_PGP_KEY is refused)",
    ),
    ...entries("encryption", "ignored", ["WALG_CSE_KMS_REGION"], "tunes AWS KMS encryption only (WALG_CSE_KMS_ID is refused)"),
    ...entries("encryption", "ignored", ["YC_SERVICE_ACCOUNT_KEY_FILE"], "credentials for Yandex Cloud KMS only (YC_CSE_KMS_KEY_ID is refused)"),

    ...entries("WAL", "supported", ["WALG_COMPRESSION_METHOD"], "lz4, brotli, zstd, lzma or none"),
    ...entries("WAL", "ignored", ["WALG_ZSTD_LEVEL"], "a zstd level changes the size of .zst objects only: they stay standard zstd frames both tools read (wal-native writes level 3, wal-g's default)"),
    ...entries("WAL", "supported", ["WALG_PREVENT_WAL_OVERWRITE"], "refuse to replace an archived file with different content (on by default here)"),
    ...entries("WAL", "ignored", ["WALG_FORCE_WAL_DELTA"], "makes backup-push fail without WAL delta maps; WALG_USE_WAL_DELTA, which writes them, is refused"),
    ...entries("WAL", "supported", ["WALG_PG_WAL_SIZE"], "segment size in MiB, for segment name arithmetic"),
    ...entries(
      "WAL",
      "ignored",
      ["WALG_PG_WAL_PAGE_SIZE", "WALG_PG_BLOCK_SIZE"],
      "wal-g parses WAL records with them (delta maps, verification); wal-native reads each segment's page size from its header",
    ),
    ...entries("WAL", "supported", ["WALG_UPLOAD_CONCURRENCY"], "upload-ahead: 1 turns it off", { aliases: ["UPLOAD_CONCURRENCY", "WALE_UPLOAD_CONCURRENCY"] }),
    ...entries("WAL", "supported", ["TOTAL_BG_UPLOADED_LIMIT"], "files one call uploads ahead when the background uploader is off"),
    ...entries("WAL", "supported", ["WALG_DOWNLOAD_CONCURRENCY"], "prefetch window in segments; 1 turns prefetch off"),
    ...entries("WAL", "ignored", ["WALG_PREFETCH_DIR"], "where wal-g keeps prefetched segments on local disk; wal-native prefetches under pg_wal/.wal-native"),
    ...entries("WAL", "ignored", ["PG_READY_RENAME"], "wal-g marks files it uploaded ahead as done in pg_wal/archive_status; local bookkeeping, not objects"),
    ...entries("WAL", "supported", ["WALG_INTEGRITY_MAX_DELAYED_WALS"], "wal-native wal-verify: segments allowed to be missing at the end"),
    ...entries("WAL", "ignored", ["WALG_DAEMON_WAL_UPLOAD_TIMEOUT"], "wal-g's daemon mode; wal-native has a background uploader of its own"),
    ...entries("WAL", "ignored", ["WALG_SLOTNAME"], "the replication slot of wal-g wal-receive, a command wal-native does not replace"),
    ...entries(
      "WAL",
      "ignored",
      ["WALG_DISK_RATE_LIMIT", "WALG_NETWORK_RATE_LIMIT"],
      "throttling: changes how fast, not what or where (wal-native does not throttle; PostgreSQL waits for each archived file)",
    ),

    ...entries("logging", "supported", ["WALG_LOG_LEVEL"], "NORMAL or DEVEL (WALNATIVE_LOG_LEVEL takes precedence)"),
    ...entries("logging", "ignored", ["WALG_LOG_DESTINATION"], "where wal-g writes its log; wal-native logs to stderr and WALNATIVE_ARCHIVE_LOG / WALNATIVE_RESTORE_LOG"),
    ...entries(
      "logging",
      "ignored",
      ["WALG_STATSD_ADDRESS", "WALG_STATSD_EXTRA_TAGS", "PROFILE_SAMPLING_RATIO", "PROFILE_MODE", "PROFILE_PATH", "HTTP_LISTEN", "HTTP_EXPOSE_PPROF", "HTTP_EXPOSE_EXPVAR", "NOTIFY_SOCKET"],
      "metrics, profiling and wal-g's own HTTP and systemd endpoints: nothing about objects",
    ),
    ...entries("logging", "ignored", ["GOMAXPROCS", "GODEBUG"], "Go runtime settings of wal-g's process"),


    ...entries(
      "backups",
      "ignored",
      [
        "WALG_UPLOAD_DISK_CONCURRENCY",
        "WALG_UPLOAD_QUEUE",
        "WALG_DOWNLOAD_FILE_RETRIES",
        "WALG_SENTINEL_USER_DATA",
        "WALG_DELTA_MAX_STEPS",
        "WALG_DELTA_ORIGIN",
        "WALG_DELTA_FROM_NAME",
        "WALG_DELTA_FROM_USER_DATA",
        "WALG_FETCH_TARGET_USER_DATA",
        "WALG_USE_REVERSE_UNPACK",
        "WALG_SKIP_REDUNDANT_TARS",
        "WALG_VERIFY_PAGE_CHECKSUMS",
        "WALG_STORE_ALL_CORRUPT_BLOCKS",
        "WALG_USE_RATING_COMPOSER",
        "WALG_USE_COPY_COMPOSER",
        "WALG_USE_DATABASE_COMPOSER",
        "WALG_WITHOUT_FILES_METADATA",
        "WALG_TAR_SIZE_THRESHOLD",
        "WALG_TAR_DISABLE_FSYNC",
        "WALG_DIRECT_IO",
        "WALG_DIRECT_IO_BLOCK_COUNT",
        "WALG_ALIVE_CHECK_INTERVAL",
        "WALG_STOP_BACKUP_TIMEOUT",
        "WALG_DISABLE_PARTIAL_RESTORE",
        "WALG_STREAM_CREATE_COMMAND",
        "WALG_STREAM_RESTORE_COMMAND",
        "WALG_SERIALIZER_TYPE",
        "PGBACKREST_STANZA",
      ],
      BACKUPS,
    ),
    ...entries(
      "PostgreSQL connection",
      "ignored",
      ["PGDATA", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGPASSFILE", "PGDATABASE", "PGSSLMODE", "PGSSLKEY", "PGSSLCERT", "PGSSLROOTCERT", "PGAPPNAME", "USER"],
      "wal-push and wal-fetch never connect; wal-native check connects with libpq's variables, and the data directory is the one PostgreSQL runs the command in",
    ),
  ];

  const S3: WalgSetting[] = [
    ...storage("S3", "supported", ["AWS_ENDPOINT"], "S3 endpoint URL (scheme-less means https)"),
    ...storage("S3", "supported", ["AWS_REGION"], "region (us-east-1 when unset)"),
    ...storage("S3", "supported", ["AWS_S3_FORCE_PATH_STYLE"], "path-style addressing"),
    ...storage("S3", "supported", ["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN"], "static credentials"),
    ...storage("S3", "supported", ["S3_CA_CERT_FILE"], "CA bundle for a private TLS endpoint"),
    ...entries("S3", "supported", ["AWS_CA_BUNDLE"], "CA bundle for a private TLS endpoint when WALG_S3_CA_CERT_FILE is unset (the AWS SDKs' name)"),
    ...storage("S3", "supported", ["S3_STORAGE_CLASS"], "storage class of every upload"),
    ...storage("S3", "supported", ["S3_SSE", "S3_SSE_KMS_ID"], "server-side encryption: AES256, or aws:kms with a key id"),
    ...storage("S3", "supported", ["S3_SSE_C"], "server-side encryption with a customer key (32 bytes), sent on every request; needs WALG_S3_SSE=AES256"),
    ...storage("S3", "supported", ["S3_MAX_PART_SIZE"], "bodies up to this go in one PUT"),
    ...storage("S3", "supported", ["S3_MAX_RETRIES"], "retries per request"),
    ...storage("S3", "ignored", ["S3_ENDPOINT_PORT", "S3_ENDPOINT_PROTOCOL"], "tunes S3_ENDPOINT_SOURCE only, which is refused"),
    ...storage("S3", "ignored", ["S3_RETENTION_MODE"], "tunes S3_RETENTION_PERIOD only, which is refused"),
    ...storage(
      "S3",
      "ignored",
      ["AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "S3_USE_YC_SESSION_TOKEN"],
      "credentials: which identity signs the requests, not what or where they store (wal-native uses static keys, else the AWS SDK's chain, which reads AWS_PROFILE and web identity; a missing permission fails loudly)",
    ),
    ...storage(
      "S3",
      "ignored",
      ["AWS_DEFAULT_REGION", "AWS_DEFAULT_OUTPUT", "AWS_DUAL_STACK", "S3_SKIP_VALIDATION", "S3_LOG_LEVEL", "S3_USE_LIST_OBJECTS_V1", "S3_RANGE_BATCH_ENABLED", "S3_RANGE_MAX_RETRIES", "S3_MIN_THROTTLING_RETRY_DELAY", "S3_MAX_THROTTLING_RETRY_DELAY", "S3_DISABLE_100_CONTINUE", "S3_ENABLE_VERSIONING", "S3_DELETE_BATCH_SIZE"],
      "how requests are made (retry timing, listing API, range reads, logging, deletion batches), not what or where objects are stored",
    ),
  ];

  const OTHER_STORAGES: WalgSetting[] = [
    ...storage("other storages", "ignored", ["OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN", "OSS_ENDPOINT", "OSS_REGION", "OSS_ROLE_ARN", "OSS_ROLE_SESSION_NAME", "OSS_SKIP_VALIDATION", "OSS_MAX_RETRIES", "OSS_CONNECT_TIMEOUT", "OSS_UPLOAD_PART_SIZE", "OSS_COPY_PART_SIZE"], OTHER_STORAGE),
    ...storage("other storages", "ignored", ["GCS_CONTEXT_TIMEOUT", "GCS_NORMALIZE_PREFIX", "GCS_ENCRYPTION_KEY", "GCS_MAX_CHUNK_SIZE", "GCS_MAX_RETRIES", "GOOGLE_APPLICATION_CREDENTIALS"], OTHER_STORAGE),
    ...storage(
      "other storages",
      "ignored",
      ["AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_ENVIRONMENT_NAME", "AZURE_ENDPOINT_SUFFIX", "AZURE_BUFFER_SIZE", "AZURE_MAX_BUFFERS", "AZURE_TRY_TIMEOUT", "AZURE_BLOB_STORE_API_VERSION"],
      OTHER_STORAGE,
    ),
    ...storage("other storages", "ignored", ["OS_USERNAME", "OS_PASSWORD", "OS_AUTH_URL", "OS_TENANT_NAME", "OS_REGION_NAME"], OTHER_STORAGE),
    ...storage("other storages", "ignored", ["SSH_PORT", "SSH_PASSWORD", "SSH_USERNAME", "SSH_PRIVATE_KEY_PATH"], OTHER_STORAGE),
  ];

  /** Settings of wal-g's other databases (config.go): a PostgreSQL wal-g warns about them and goes on. */
  const OTHER_DATABASES: WalgSetting[] = entries(
    "other databases",
    "ignored",
    [
      "MONGODB_URI", "MONGODB_LAST_WRITE_UPDATE_INTERVAL", "MONGODB_EXTEND_BACKUP_CURSOR", "MONGODB_DELETION_PROTECTION_WHITELIST",
      "MONGODB_EXTRA_INTERNAL_DATABASES", "OPLOG_ARCHIVE_AFTER_SIZE", "OPLOG_ARCHIVE_TIMEOUT_INTERVAL", "OPLOG_PITR_DISCOVERY_INTERVAL",
      "OPLOG_BACKUP_ADDITIONAL_SAVING_INTERVAL", "OPLOG_PUSH_STATS_ENABLED", "OPLOG_PUSH_STATS_LOGGING_INTERVAL", "OPLOG_PUSH_STATS_UPDATE_INTERVAL",
      "OPLOG_PUSH_STATS_EXPOSE_HTTP", "OPLOG_PUSH_WAIT_FOR_BECOME_PRIMARY", "OPLOG_PUSH_PRIMARY_CHECK_INTERVAL", "OPLOG_REPLAY_OPLOG_ALWAYS_UPSERT",
      "OPLOG_REPLAY_OPLOG_APPLICATION_MODE", "OPLOG_REPLAY_IGNORE_ERROR_CODES", "OPLOG_RECOVER_TIMEOUT",
      "WALG_STREAM_SPLITTER_PARTITIONS", "WALG_STREAM_SPLITTER_BLOCK_SIZE", "WALG_STREAM_SPLITTER_MAX_FILE_SIZE",
      "WALG_MYSQL_DATASOURCE_NAME", "WALG_MYSQL_SSL_CA", "WALG_MYSQL_BINLOG_REPLAY_COMMAND", "WALG_MYSQL_BINLOG_DST",
      "WALG_MYSQL_BACKUP_PREPARE_COMMAND", "WALG_MYSQL_CHECK_GTIDS", "WALG_MYSQL_BINLOG_SERVER_HOST", "WALG_MYSQL_BINLOG_SERVER_PORT",
      "WALG_MYSQL_BINLOG_SERVER_USER", "WALG_MYSQL_BINLOG_SERVER_PASSWORD", "WALG_MYSQL_BINLOG_SERVER_ID", "WALG_MYSQL_BINLOG_SERVER_REPLICA_SOURCE",
      "WALG_BACKUP_DOWNLOAD_MAX_RETRY", "WALG_MYSQL_INCREMENTAL_BACKUP_DST", "WALG_MYSQL_DATA_DIR", "WALG_MYSQL_TAKE_BINLOGS_FROM_MASTER",
      "WALG_REDIS_USERNAME", "WALG_REDIS_PASSWORD", "WALG_REDIS_DATA_PATH", "WALG_REDIS_APPENDONLY_PATH", "WALG_REDIS_APPENDONLY_MANIFEST",
      "WALG_REDIS_APPENDONLY_TEMP_MANIFEST", "WALG_REDIS_TS_PIN_FOLDER", "WALG_REDIS_DATA_THRESHOLD", "WALG_REDIS_DATA_TIMEOUT",
      "WALG_REDIS_SERVER_PROCESS_NAME", "WALG_REDIS_FQDN_TO_ID_MAP", "WALG_REDIS_CLUSTER_CONF_PATH",
      "WALG_GP_LOGS_DIR", "WALG_GP_SEG_CONTENT_ID", "WALG_GP_SEG_POLL_INTERVAL", "WALG_GP_SEG_POLL_RETRIES", "WALG_GP_SEG_UPD_INTERVAL",
      "WALG_GP_SEG_STATES_DIR", "WALG_GP_DELETE_CONCURRENCY", "WALG_GP_AOSEG_SIZE_THRESHOLD", "WALG_GP_AOSEG_DEDUPLICATION_AGE_LIMIT",
      "WALG_GP_PAXFILE_SIZE_THRESHOLD", "WALG_GP_PAXFILE_DEDUPLICATION_AGE_LIMIT", "WALG_GP_RELATIVE_RECOVERY_CONF_PATH",
      "WALG_GP_RELATIVE_POSTGRESQL_CONF_PATH", "GPHOME", "WALG_ETCD_DATA_DIR", "WALG_ETCD_WAL_DIR",
      "SQLSERVER_BLOB_HOSTNAME", "SQLSERVER_BLOB_CERT_FILE", "SQLSERVER_BLOB_KEY_FILE", "SQLSERVER_BLOB_LOCK_FILE",
      "SQLSERVER_CONNECTION_STRING", "SQLSERVER_DB_CONCURRENCY", "SQLSERVER_REUSE_PROXY",
    ],
    "a setting of wal-g for another database (MongoDB, MySQL, Redis, Greenplum, etcd, SQL Server)",
  );

  return [...CORE, ...S3, ...OTHER_STORAGES, ...OTHER_DATABASES];
}

const GROUPS = ["storage", "encryption", "WAL", "config file", "logging", "backups", "PostgreSQL connection", "S3", "other storages", "other databases"];
let everything: readonly WalgSetting[] | undefined;

/** The whole table, grouped as the documentation shows it. */
export function walgSettings(): readonly WalgSetting[] {
  everything ??= [...REFUSED, ...notRefused()].sort((a, b) => GROUPS.indexOf(a.group) - GROUPS.indexOf(b.group));
  return everything;
}

/**
 * wal-g's config file when WALG_CONFIG_PATH is unset: ".walg" with any extension viper reads, in the home
 * directory of the user it runs as (internal/config/config.go ReadConfigFromFile; not $HOME).
 */
export const CONFIG_FILE_EXTENSIONS = ["json", "toml", "yaml", "yml", "properties", "props", "prop", "hcl", "tfvars", "dotenv", "env", "ini"] as const;

type Env = Readonly<Record<string, string | undefined>>;


/**
 * Exit 78 naming the first refused setting that is set (to anything but its harmless value), or a wal-g config
 * file that wal-g would read. Runs before anything is read or written, in every command and worker.
 */
export function refuseUnsupportedSettings(env: Env, home: () => string | undefined = homeOfUser): void {
  for (const setting of REFUSED) {
    for (const name of [setting.name, ...setting.aliases]) {
      const value = env[name];
      // viper takes an empty variable as unset.
      if (value === undefined || value === "" || setting.harmless?.test(value)) continue;
      throw new ConfigError(name, `${setting.reason}: not supported by wal-native`, hintFor(setting));
    }
  }
  const dir = home();
  if (!dir) return;
  for (const extension of CONFIG_FILE_EXTENSIONS) {
    const file = join(dir, `.walg.${extension}`);
    if (existsSync(file)) {
      throw new ConfigError(file, "wal-g reads settings from this file, wal-native only from the environment, so the two would not agree", "move its settings into the environment PostgreSQL starts with (wal-g reads them there too) and remove the file");
    }
  }
}

function hintFor(setting: WalgSetting): string {
  if (setting.group === "storage") return "use WALG_S3_PREFIX or WALG_FILE_PREFIX, and unset the other";
  if (setting.group === "encryption") return "wal-native encrypts as wal-g does with WALG_LIBSODIUM_KEY or WALG_PGP_KEY; unset this one";
  if (setting.group === "config file") return "set wal-g's settings in the environment PostgreSQL starts with (wal-g reads them there too)";
  return "unset it (wal-native and wal-g then write the same objects)";
}

function homeOfUser(): string | undefined {
  try {
    return userInfo().homedir;
  } catch {
    return undefined;
  }
}
