/** The domain part of an address, lower-cased; "" when there is none. */
export function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "" : address.slice(at + 1).toLowerCase();
}

/** Local part as given, domain lower-cased: domains are case-insensitive, local parts may not be. */
export function normalizeAddress(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? address : address.slice(0, at) + "@" + address.slice(at + 1).toLowerCase();
}
