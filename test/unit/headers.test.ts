import { describe, expect, it } from "vitest";
import { MessageHeaders } from "../../src/rules/headers.ts";
import { header, headerEnd, MAX_HEADER_BYTES, parseHeaderFields, parseHeaders, prependHeaders } from "../../src/util/headers.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("the one header reader (src/util/headers.ts)", () => {
  it("finds the end of the header block with CRLF, bare LF and mixed endings", () => {
    expect(headerEnd(bytes("A: 1\r\nB: 2\r\n\r\nbody"))).toEqual({ end: 12, bodyStart: 14 });
    expect(headerEnd(bytes("A: 1\nB: 2\n\nbody"))).toEqual({ end: 10, bodyStart: 11 });
    expect(headerEnd(bytes("A: 1\r\n\nbody"))).toEqual({ end: 6, bodyStart: 7 });
    expect(headerEnd(bytes("A: 1\r\nno blank line"))).toEqual({ end: 19, bodyStart: 19 });
  });

  it("splits fields, unfolds continuations with one space, skips what is not a field", () => {
    const raw = bytes("Subject: a\r\n  folded\r\n\tagain\r\nnot a field\r\n continued garbage\r\nX Bad: name\r\nFrom:  x@y.z \r\n\r\nNot: a header\r\n");
    expect(parseHeaderFields(raw)).toEqual([
      { name: "Subject", value: "a folded again" },
      { name: "From", value: "x@y.z" },
    ]);
    expect(parseHeaderFields(bytes("\r\nSubject: in the body\r\n"))).toEqual([]);
    // Values are not decoded here; MessageHeaders decodes them.
    const encoded = bytes("Subject: =?ISO-8859-1?Q?Caf=E9?=\r\n\r\n");
    expect(parseHeaderFields(encoded)).toEqual([{ name: "Subject", value: "=?ISO-8859-1?Q?Caf=E9?=" }]);
    expect(MessageHeaders.parse(encoded).first("subject")).toBe("Café");
  });

  it("by name: lower-cased, every value in order", () => {
    const h = parseHeaders(bytes("Received: one\r\nSUBJECT: s\r\nreceived: two\r\n\r\n"));
    expect(h.get("received")).toEqual(["one", "two"]);
    expect(header(h, "Subject")).toBe("s");
    expect(header(h, "From")).toBeNull();
  });

  it("reads at most MAX_HEADER_BYTES, whoever asks", () => {
    const big = bytes(`Subject: first\r\nX-Pad: ${"x".repeat(MAX_HEADER_BYTES)}\r\nLate: field\r\n\r\n`);
    expect(headerEnd(big).end).toBe(MAX_HEADER_BYTES);
    expect(parseHeaderFields(big).map((f) => f.name)).toEqual(["Subject", "X-Pad"]);
    expect(parseHeaders(big).has("late")).toBe(false);
    expect(MessageHeaders.parse(big).has("late")).toBe(false);
    // With a limit of its own (the Authentication-Results stripper reads the whole block).
    expect(headerEnd(big, big.length).end).toBe(big.length - 2);
  });

  it("prepends fields and keeps every original byte", () => {
    const content = bytes("Subject: s\n\nbody");
    const out = prependHeaders(content, [["X-A", "1"], ["X-B", "2"]]);
    expect(new TextDecoder().decode(out)).toBe("X-A: 1\r\nX-B: 2\r\nSubject: s\n\nbody");
    expect(prependHeaders(content, [])).toBe(content);
  });
});
