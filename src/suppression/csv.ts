import { addressProblem, reasonProblem, type Suppression, type SuppressionInput } from "./store.ts";

/** Columns of an export, in order; an import needs `address` and reads `reason` and `expires_at`. */
export const EXPORT_COLUMNS = ["address", "reason", "expires_at", "source", "bounce_class", "created_at", "created_by"] as const;
/** Columns an import understands; export-only columns are accepted and ignored, so a file round-trips. */
const KNOWN_COLUMNS: ReadonlySet<string> = new Set(EXPORT_COLUMNS);

const DEFAULT_REASON = "imported";

export interface CsvLineProblem {
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  problem: string;
}

export type CsvImport = { ok: true; entries: SuppressionInput[] } | { ok: false; problems: CsvLineProblem[] };

function quote(field: string): string {
  return /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

/** RFC 4180 CSV of the list, header first, CRLF line ends. */
export function suppressionsToCsv(rows: readonly Suppression[]): string {
  const lines = [EXPORT_COLUMNS.join(",")];
  for (const r of rows) {
    lines.push(
      [r.address, r.reason, r.expiresAt?.toISOString() ?? "", r.source, r.bounceClass ?? "", r.createdAt.toISOString(), r.createdBy].map(quote).join(","),
    );
  }
  return lines.join("\r\n") + "\r\n";
}

/**
 * Split CSV text into records of fields with their starting line (RFC 4180: quoted fields
 * may hold commas, doubled quotes and line breaks). A quote left open is reported, not guessed.
 */
export function parseCsv(text: string): { records: Array<{ line: number; fields: string[] }>; unterminatedAt: number | null } {
  const records: Array<{ line: number; fields: string[] }> = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let fieldStarted = false;
  const endRecord = () => {
    fields.push(field);
    // A blank line is no record.
    if (!(fields.length === 1 && fields[0] === "" && !fieldStarted)) records.push({ line: recordLine, fields });
    fields = [];
    field = "";
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === "\n") line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field === "") {
      quoted = true;
      fieldStarted = true;
    } else if (c === ",") {
      fields.push(field);
      field = "";
      fieldStarted = true;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (quoted) return { records, unterminatedAt: recordLine };
  if (field !== "" || fields.length > 0 || fieldStarted) endRecord();
  return { records, unterminatedAt: null };
}

function parseExpiry(value: string): Date | string {
  const v = value.trim();
  // ISO 8601 date or date-time only: Date.parse accepts much more, differently per runtime.
  if (!/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    return `expires_at "${value}" is not an ISO 8601 date or date-time`;
  }
  const d = new Date(v.length === 10 ? `${v}T00:00:00Z` : v.replace(" ", "T"));
  return Number.isNaN(d.getTime()) ? `expires_at "${value}" is not a valid date` : d;
}

/**
 * Read an import file: a header naming the columns (address required; reason, expires_at
 * optional; export-only columns ignored), then one suppression per line. Every line is
 * checked and every problem listed; the entries come back only when there is none.
 */
export function suppressionsFromCsv(text: string): CsvImport {
  const { records, unterminatedAt } = parseCsv(text.replace(/^\uFEFF/, ""));
  const problems: CsvLineProblem[] = [];
  if (unterminatedAt !== null) problems.push({ line: unterminatedAt, problem: "quoted field is not closed" });
  const [header, ...body] = records;
  if (!header) return { ok: false, problems: problems.length > 0 ? problems : [{ line: 1, problem: "file is empty: a header line (address,reason,expires_at) is needed" }] };
  const columns = header.fields.map((f) => f.trim().toLowerCase());
  const unknown = columns.filter((c) => !KNOWN_COLUMNS.has(c));
  if (unknown.length > 0) problems.push({ line: header.line, problem: `unknown column(s) ${unknown.join(", ")}; known: ${EXPORT_COLUMNS.join(", ")}` });
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup) problems.push({ line: header.line, problem: `column ${dup} appears twice` });
  const at = (name: string) => columns.indexOf(name);
  if (at("address") < 0) problems.push({ line: header.line, problem: "header has no address column" });
  if (problems.length > 0) return { ok: false, problems };

  const entries: SuppressionInput[] = [];
  const seen = new Map<string, number>();
  for (const rec of body) {
    if (rec.fields.length !== columns.length) {
      problems.push({ line: rec.line, problem: `${rec.fields.length} field(s), the header has ${columns.length}` });
      continue;
    }
    const address = rec.fields[at("address")].trim();
    const reason = at("reason") >= 0 && rec.fields[at("reason")].trim() !== "" ? rec.fields[at("reason")].trim() : DEFAULT_REASON;
    const problem = addressProblem(address) ?? reasonProblem(reason);
    if (problem) {
      problems.push({ line: rec.line, problem });
      continue;
    }
    const key = address.toLowerCase();
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      problems.push({ line: rec.line, problem: `address ${key} already on line ${earlier}` });
      continue;
    }
    seen.set(key, rec.line);
    let expiresAt: Date | null = null;
    const rawExpiry = at("expires_at") >= 0 ? rec.fields[at("expires_at")] : "";
    if (rawExpiry.trim() !== "") {
      const parsed = parseExpiry(rawExpiry);
      if (typeof parsed === "string") {
        problems.push({ line: rec.line, problem: parsed });
        continue;
      }
      expiresAt = parsed;
    }
    entries.push({ address, reason, expiresAt });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, entries };
}
