import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryRows, strOrNull } from "../../src/db/rows.ts";
import { clean, headerSummaryFromContent, headerSummaryFromFields, MAX_HEADER_SUMMARY_CHARS } from "../../src/queue/header-summary.ts";
import { insertMessages, type MessageToInsert } from "../../src/queue/insert-messages.ts";
import { parseHeaderFields } from "../../src/util/headers.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

const raw = (s: string) => new TextEncoder().encode(s);

describe("header summary", () => {
  it("decodes RFC 2047 words, unfolds, and takes the Message-ID without its brackets", () => {
    const msg = raw("From: a@example.org\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n  aus Bern\r\nMessage-ID:  <abc.123@example.org> (comment)\r\n\r\nbody Subject: no\r\n");
    expect(headerSummaryFromContent(msg)).toEqual({ subject: "Grüße aus Bern", messageId: "abc.123@example.org" });
    // The SMTP frontend's split fields give the same answer.
    expect(headerSummaryFromFields(parseHeaderFields(msg))).toEqual({ subject: "Grüße aus Bern", messageId: "abc.123@example.org" });
  });

  it("absent or blank fields are null; a Message-ID without brackets is kept as written", () => {
    expect(headerSummaryFromContent(raw("From: a@example.org\r\nSubject:   \r\n\r\nhi"))).toEqual({ subject: null, messageId: null });
    expect(headerSummaryFromContent(raw("Message-Id: bare@id\r\n\r\n")).messageId).toBe("bare@id");
  });

  it("control characters (an encoded NUL) become spaces; long values are cut at a code point", () => {
    expect(headerSummaryFromContent(raw("Subject: =?UTF-8?Q?a=00b=0Ac?=\r\n\r\n")).subject).toBe("a b c");
    const long = "😀".repeat(MAX_HEADER_SUMMARY_CHARS + 5);
    const cut = clean(long);
    expect(Array.from(cut ?? "")).toHaveLength(MAX_HEADER_SUMMARY_CHARS);
    expect(cut?.endsWith("😀")).toBe(true);
  });
});

describe("insertMessages stores subject and Message-ID", () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  function item(i: number, content: string, parsed: boolean): MessageToInsert {
    const bytes = raw(content);
    return {
      input: {
        envelope: { sender: `s${i}@example.org`, recipients: [{ address: `r${i}@example.net` }] },
        content: bytes,
        submittedBy: "fe",
        processor: null,
        now: new Date(),
        headers: parsed ? headerSummaryFromFields(parseHeaderFields(bytes)) : undefined,
      },
      firstPart: bytes,
    };
  }

  async function stored(id: number) {
    const [row] = await queryRows(tdb.storage.db, sql`SELECT subject, header_message_id FROM messages WHERE id = ${id}`);
    return { subject: strOrNull(row.subject), messageId: strOrNull(row.header_message_id) };
  }

  it("in a batch (quotes, backslashes, braces survive the array parameter) and alone", async () => {
    const batch = await insertMessages(tdb.storage.db, [
      item(1, 'Subject: "quoted" {braces}, back\\slash NULL\r\nMessage-ID: <one@x>\r\n\r\nb', true),
      item(2, "Subject: second\r\n\r\nb", false),
      item(3, "\r\nno header", true),
    ]);
    expect(await stored(batch[0].messageId)).toEqual({ subject: '"quoted" {braces}, back\\slash NULL', messageId: "one@x" });
    expect(await stored(batch[1].messageId)).toEqual({ subject: "second", messageId: null });
    expect(await stored(batch[2].messageId)).toEqual({ subject: null, messageId: null });
    const [alone] = await insertMessages(tdb.storage.db, [item(4, "Subject: alone\r\nMessage-ID: <alone@x>\r\n\r\nb", false)]);
    expect(await stored(alone.messageId)).toEqual({ subject: "alone", messageId: "alone@x" });
  });
});
