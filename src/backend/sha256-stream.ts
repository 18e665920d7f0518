import { createHash } from "node:crypto";

/**
 * Incremental SHA-256, fed chunk by chunk while a body streams in, so nothing is copied or
 * hashed again afterwards. From node:crypto because Web Crypto has no incremental digest;
 * Node, Bun and Deno all provide this module.
 */
export class Sha256 {
  private readonly hash = createHash("sha256");

  update(bytes: Uint8Array): void {
    this.hash.update(bytes);
  }

  hex(): string {
    return this.hash.digest("hex");
  }
}
