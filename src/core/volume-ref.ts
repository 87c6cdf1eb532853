/**
 * How messages name a volume: by its name, which the operator chose and recognises, and by its id, which
 * is what every API takes — `volume "pg-data" (vol-…)`.
 */
export function volumeRef(v: { readonly name: string; readonly id: string }): string {
  return `volume ${JSON.stringify(v.name)} (${v.id})`;
}
