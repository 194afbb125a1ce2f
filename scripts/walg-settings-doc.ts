// docs/WALG-SETTINGS.md, rendered from the settings table in src/walg-settings.ts: written by
// `npm run docs:settings` (scripts/write-walg-settings-doc.ts); test/unit/walg-settings.test.ts fails when the
// file and the table disagree.
import { CONFIG_FILE_EXTENSIONS, type Treatment, walgSettings } from "../src/walg-settings.js";

const TREATMENT: Record<Treatment, string> = {
  supported: "supported",
  refused: "**refused** (exit 78)",
  ignored: "ignored",
};

export function renderSettingsDoc(): string {
  const lines = [
    "# wal-g's settings in wal-native",
    "",
    "<!-- Written by `npm run docs:settings` from src/walg-settings.ts; do not edit by hand. -->",
    "",
    "Every setting wal-g v3.0.9 reads, and what wal-native does with it. **Supported** settings mean what they mean",
    "in wal-g. A **refused** setting stops every wal-native command and worker with exit 78 naming it (wal-restore",
    "exits above 125, which aborts the recovery): it would change the bytes or the place of the objects, and",
    "wal-native does not implement it, so the two tools would no longer read each other's archive. Where a value",
    "changes nothing (wal-g's default), that value is accepted. An **ignored** setting changes neither the bytes",
    "nor the place of any WAL object; the reason is given.",
    "",
    "S3 settings are read under three names, like wal-g: `K`, `WALG_K` and `WALE_K` (e.g. `S3_SSE_C`,",
    "`WALG_S3_SSE_C`, `WALE_S3_SSE_C`); the other names a setting is read under are listed beside it.",
    "",
    "A wal-g config file is refused too: `WALG_CONFIG_PATH` (in the table), and `.walg.<ext>` in the home directory",
    "of the user the command runs as: wal-native reads settings from the environment only, so it would miss the",
    `file's (<ext>: ${CONFIG_FILE_EXTENSIONS.join(", ")}).`,
  ];
  const groups = [...new Set(walgSettings().map((setting) => setting.group))];
  for (const group of groups) {
    lines.push("", `## ${group[0]!.toUpperCase()}${group.slice(1)}`, "", "| setting | also read as | wal-native | why |", "|---|---|---|---|");
    for (const setting of walgSettings().filter((entry) => entry.group === group)) {
      const aliases = setting.aliases.map((alias) => `\`${alias}\``).join(", ");
      const treatment = setting.harmless ? `${TREATMENT[setting.treatment]} unless \`${setting.harmless.values}\`` : TREATMENT[setting.treatment];
      lines.push(`| \`${setting.name}\` | ${aliases} | ${treatment} | ${setting.reason.replaceAll("|", "\\|")} |`);
    }
  }
  return `${lines.join("\n")}\n`;
}
