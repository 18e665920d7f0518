import { customType } from "drizzle-orm/pg-core";

// postgres.js hands back a Buffer, PGlite a Uint8Array: normalise to Uint8Array so callers see one type.
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType() {
    return "bytea";
  },
  toDriver(value) {
    return value;
  },
  fromDriver(value) {
    if (value instanceof Uint8Array) return value;
    if (typeof value === "string") return hexToBytes(value);
    return new Uint8Array(value);
  },
});

function hexToBytes(text: string): Uint8Array {
  const hex = text.startsWith("\\x") ? text.slice(2) : text;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
