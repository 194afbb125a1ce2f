// The fast-path protocol that the sh launchers (bin/) share with the TypeScript: names under pg_wal/.wal-native/.

/** PostgreSQL's pg_wal holds our state in this directory (excluded from base backups as a dot directory). */
export const STATE_DIR = ".wal-native";
