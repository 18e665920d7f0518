import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminApi } from "../../../src/http/admin/api.ts";
import { openApiPath } from "../../../src/http/admin/openapi.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/postgres.ts";
import { adminApp, call, TOKEN } from "../../helpers/admin-app.ts";

let tdb: TestDatabase;
let app: ReturnType<typeof adminApp>["app"];
let deps: ReturnType<typeof adminApp>["deps"];

beforeAll(async () => {
  tdb = await createTestDatabase();
  ({ app, deps } = adminApp(tdb.storage.db));
});
afterAll(async () => {
  await tdb.drop();
});

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; security?: unknown[]; parameters: Array<{ name: string; in: string; required: boolean; schema: Record<string, unknown> }>; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>;
  components: { schemas: Record<string, unknown> };
}

async function document(): Promise<Doc> {
  const res = await app.request("/api/v1/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json()) as Doc;
}

describe("unknown /api/v1 paths", () => {
  it("answer a JSON 404 through the one error handler, for any method", async () => {
    expect(await call(app, "GET", "/nope")).toMatchObject({ status: 404, body: { error: "no such endpoint: GET /api/v1/nope" } });
    expect(await call(app, "POST", "/queue/1/2/3", {})).toMatchObject({ status: 404, body: { error: "no such endpoint: POST /api/v1/queue/1/2/3" } });
    expect(await call(app, "DELETE", "")).toMatchObject({ status: 404, body: { error: "no such endpoint: DELETE /api/v1" } });
    const res = await app.request("/api/v1/nope", { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("still ask for the token first: an unknown path reveals nothing to a stranger", async () => {
    expect(await call(app, "GET", "/nope", undefined, null)).toMatchObject({ status: 401, body: { error: "missing bearer token" } });
  });
});

describe("GET /api/v1/openapi.json", () => {
  it("is an OpenAPI 3.1 document served without the token", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.schemas.Error).toMatchObject({ type: "object", required: ["error"] });
    expect(doc.paths["/openapi.json"].get.security).toEqual([]);
  });

  it("lists exactly the routes the API serves, each with a unique operationId", async () => {
    const doc = await document();
    const served = new Set(
      createAdminApi(deps)
        .routes.filter((r) => r.method !== "ALL")
        .map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`),
    );
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
    expect([...documented].sort()).toEqual([...served].sort());
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("describes requests with the zod schemas the routes validate with", async () => {
    const doc = await document();
    const addDomain = doc.paths["/domains"].post.requestBody?.content["application/json"].schema;
    expect(addDomain).toMatchObject({ type: "object", required: ["name"], additionalProperties: false });
    // The schema and the validator agree: what the document calls required is refused when missing.
    expect(await call(app, "POST", "/domains", {})).toMatchObject({ status: 400, body: { issues: [{ path: "name" }] } });

    const list = doc.paths["/queue"].get.parameters;
    expect(list.find((p) => p.name === "state")).toMatchObject({ in: "query", required: false, schema: { enum: ["queued", "held", "delivered", "failed", "pending", "all"] } });
    expect(doc.paths["/queue/{id}/{action}"].post.parameters.map((p) => [p.name, p.in, p.schema.enum ?? p.schema.type])).toEqual([
      ["id", "path", "integer"],
      ["action", "path", ["retry", "hold", "release", "bounce"]],
    ]);
    expect(doc.paths["/members/{name}"].put.requestBody?.content["application/json"].schema).toMatchObject({
      properties: { submitMode: { enum: ["locally", "locally-for-others", "remotely"] } },
    });
    expect(doc.paths["/accounts/{address}/rules"].put.requestBody?.content["application/json"].schema).toMatchObject({ required: ["rules"] });
  });
});
