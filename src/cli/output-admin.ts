import { type Cell, printRows as printTable } from "./output.ts";

/** Where admin commands write; tests pass their own. */
export type Out = (line: string) => void;

const stdout: Out = (line) => console.log(line);

export function printRows(rows: Record<string, Cell>[], columns: string[], json: boolean, out: Out = stdout): void {
  printTable(rows, columns, json, out);
}

/** One result: a sentence for people, the object for scripts. */
export function printResult(value: unknown, sentence: string, json: boolean, out: Out = stdout): void {
  out(json ? JSON.stringify(value, null, 2) : sentence);
}
