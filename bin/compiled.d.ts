/** Types of bin/compiled.js (plain JS: it runs before any TypeScript loader). */
export interface Project {
  root: string;
  entry: string;
  cache: string;
}
export function project(root?: string): Project;
export function compiledEntry(): Promise<string | null>;
export function freshEntry(p: Project): string | null;
export function build(p?: Project): Promise<string>;
