import type { DkimKeyInfo } from "./store.ts";

/** The JSON shape of a key for the API and `--json`: public half and DNS record only. */
export function keyView(k: DkimKeyInfo) {
  return { domain: k.domain, selector: k.selector, algorithm: k.algorithm, active: k.active, createdAt: k.createdAt.toISOString(), dns: k.dns };
}
