import Table from "cli-table3";

export type Cell = string | number | boolean | null | undefined | Date;

/** Human-readable table by default; the same rows as JSON with --json, for scripts. */
export function printRows(rows: Record<string, Cell>[], columns: string[], json: boolean, out: (s: string) => void = console.log): void {
  if (json) {
    out(JSON.stringify(rows, null, 2));
    return;
  }
  if (rows.length === 0) {
    out("(none)");
    return;
  }
  const table = new Table({ head: columns, style: { head: [], border: [] } });
  for (const row of rows) table.push(columns.map((c) => formatCell(row[c])));
  out(table.toString());
}

function formatCell(v: Cell): string {
  if (v === null || v === undefined) return "";
  if (v instanceof Date) return v.toISOString();
  return String(v);
}
