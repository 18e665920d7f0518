/**
 * The CLI's side of the admin API, for a member that holds the database alone (PGlite).
 * Answers come back as parsed JSON (or bytes for raw content); an error answer becomes an
 * Error with the API's own message, so the command fails as it would on the database.
 */
export class AdminClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await this.request(method, path, body);
    return res.json();
  }

  /** The answer's bytes, or null on 404. */
  async bytes(path: string): Promise<Uint8Array | null> {
    const res = await this.request("GET", path, undefined, true);
    if (res.status === 404) return null;
    return new Uint8Array(await res.arrayBuffer());
  }

  private async request(method: string, path: string, body: unknown, allow404 = false): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new Error(`the member's admin API at ${this.baseUrl} does not answer (${err instanceof Error ? err.message : String(err)}); is "mailcluster start" still running?`);
    }
    if (res.ok || (allow404 && res.status === 404)) return res;
    throw new AdminApiError(res.status, await errorMessage(res));
  }
}

export class AdminApiError extends Error {
  override name = "AdminApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && "error" in parsed && typeof parsed.error === "string") {
      const issues = "issues" in parsed && Array.isArray(parsed.issues) ? parsed.issues : [];
      const detail = issues.map((i: unknown) => (i && typeof i === "object" && "message" in i ? String(i.message) : "")).filter(Boolean);
      return detail.length > 0 ? `${parsed.error}: ${detail.join("; ")}` : parsed.error;
    }
  } catch {
    // not JSON
  }
  return `admin API answered ${res.status}: ${text.slice(0, 200)}`;
}
