// The process environment as the settings readers take it (config.ts, crypto/keys.ts): a module of its own, so that
// a reader below config.ts names the type without importing config.ts back.
export type Env = Readonly<Record<string, string | undefined>>;
