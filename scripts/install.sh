#!/usr/bin/env bash
# Installs wal-native under <root> the way Dockerfile.walg does (install.sh / inside the image):
#   <root>/opt/wal-native/{bin,dist,scripts,node_modules,package.json}  the bundle and its native modules
#   <root>/usr/local/bin/{wal-archive,wal-restore,wal-native}           launchers (relative symlinks)
#   <root>/usr/local/bin/{wal-archive.sh,wal-restore.sh}                the runbook's names, kept working
#   <root>/usr/local/bin/{init-walg,monitor-walg,test-restore,test-pitr,dr-drill}.sh  operations scripts
# Needs a built tree (npm ci && npm run build); only the modules the bundle leaves external are copied.
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: scripts/install.sh <root>   (e.g. / in an image, or a staging directory)" >&2
  exit 64
fi
root=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
prefix=$root/opt/wal-native
bindir=$root/usr/local/bin

for file in dist/wal-archive.cjs dist/wal-restore.cjs dist/wal-native.cjs; do
  if [ ! -f "$repo/$file" ]; then
    echo "install.sh: $repo/$file is missing: run npm ci && npm run build first" >&2
    exit 78
  fi
done

mkdir -p "$prefix/bin" "$prefix/dist" "$prefix/scripts" "$prefix/node_modules" "$bindir"
cp "$repo/package.json" "$prefix/"
cp "$repo"/dist/*.cjs "$repo"/dist/*.v8cache "$prefix/dist/"
cp "$repo"/bin/wal-archive "$repo"/bin/wal-restore "$repo"/bin/wal-native "$prefix/bin/"
for script in init-walg monitor-walg test-restore test-pitr dr-drill; do
  cp "$repo/scripts/$script.sh" "$prefix/scripts/"
done
chmod 755 "$prefix"/bin/* "$prefix"/scripts/*.sh

# The launchers start node by its absolute path, never through PostgreSQL's PATH (a systemd unit's or nvm's
# node is not on it): WALNATIVE_NODE at install time, else the node on this PATH. WALNATIVE_NODE in the
# server's environment still overrides it at run time.
node_path=${WALNATIVE_NODE:-$(command -v node || true)}
case $node_path in
  /*) [ -x "$node_path" ] || { echo "install.sh: $node_path is not executable" >&2; exit 78; } ;;
  *) echo "install.sh: no node found: put it on PATH or set WALNATIVE_NODE=/absolute/path/to/node" >&2; exit 78 ;;
esac
node - "$node_path" "$prefix/bin" <<'NODE'
const { readFileSync, writeFileSync } = require("node:fs");
const [node, bin] = process.argv.slice(2);
const line = `node=\${WALNATIVE_NODE:-'${node.replaceAll("'", "'\\''")}'}`;
for (const tool of ["wal-archive", "wal-restore", "wal-native"]) {
  const text = readFileSync(`${bin}/${tool}`, "utf8");
  if (!/^node=\$\{WALNATIVE_NODE:-.*\}$/m.test(text)) throw new Error(`${tool}: no node line to set`);
  writeFileSync(`${bin}/${tool}`, text.replace(/^node=\$\{WALNATIVE_NODE:-.*\}$/m, () => line));
}
NODE

# The bundle's external modules (scripts/externals.json) and everything they need, as installed by npm.
node - "$repo" "$prefix/node_modules" <<'NODE'
const { cpSync, existsSync, readFileSync } = require("node:fs");
const { join } = require("node:path");
const [repo, target] = process.argv.slice(2);
const { external } = JSON.parse(readFileSync(join(repo, "scripts", "externals.json"), "utf8"));
const seen = new Set();
const visit = (name) => {
  const dir = join(repo, "node_modules", name);
  if (seen.has(name) || !existsSync(join(dir, "package.json"))) return;
  seen.add(name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) visit(dep);
};
external.forEach(visit);
for (const name of seen) cpSync(join(repo, "node_modules", name), join(target, name), { recursive: true, dereference: true });
console.log(`install.sh: copied ${seen.size} modules: ${[...seen].sort().join(" ")}`);
NODE

cd "$bindir"
for tool in wal-archive wal-restore wal-native; do
  ln -sfn "../../../opt/wal-native/bin/$tool" "$tool"
done
for script in init-walg monitor-walg test-restore test-pitr dr-drill; do
  ln -sfn "../../../opt/wal-native/scripts/$script.sh" "$script.sh"
done
# The runbook's archive_command/restore_command lines name these two; same arguments as ours.
for tool in wal-archive wal-restore; do
  cat > "$tool.sh" <<WRAPPER
#!/bin/sh
# Compatibility name from the runbook: '$tool.sh' is wal-native's $tool (same arguments).
exec "\$(dirname "\$(readlink -f "\$0")")/$tool" "\$@"
WRAPPER
  chmod 755 "$tool.sh"
done
echo "install.sh: installed wal-native $(node -p "require('$prefix/package.json').version") into $root (launchers in $bindir)"
