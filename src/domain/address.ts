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

/**
 * The one key an address is stored and looked up under (accounts, aliases, suppressions):
 * trimmed and lower-cased as a whole. Local parts are case-sensitive in theory (RFC 5321 2.4)
 * but no real mailbox service treats them so, and a list that missed "Bob@x" after "bob@x"
 * would be useless. (normalizeAddress, above, is the envelope's form: local part as given.)
 */
export function canonicalAddress(address: string): string {
  return address.trim().toLowerCase();
}
