const KIB = 1024;
const MIB = KIB * 1024;
const GIB = MIB * 1024;
const TIB = GIB * 1024;

/** Bytes for humans, one decimal: `10.0 GiB`, `512.0 MiB`. Only for reasons and summaries, never the hot path. */
export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs >= TIB) return `${(bytes / TIB).toFixed(1)} TiB`;
  if (abs >= GIB) return `${(bytes / GIB).toFixed(1)} GiB`;
  if (abs >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  if (abs >= KIB) return `${(bytes / KIB).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/** `[a, b]` for a list of names in a reason. */
export function formatList(items: readonly string[]): string {
  return `[${items.join(', ')}]`;
}
