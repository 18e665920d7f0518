import { Hono } from "hono";
import { DEFAULT_SETTINGS, isSettingKey, loadSettings, resetSetting, setSetting } from "../../../cluster/settings.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { ApiError } from "../../shared/errors.ts";
import { settingBody } from "../../shared/schemas.ts";
import { requireJson, valid } from "../../shared/validate.ts";

export function settingRoutes(d: AdminDeps): Hono {
  return new Hono()
    .get("/", async (c) => c.json({ settings: await loadSettings(d.db), defaults: DEFAULT_SETTINGS }))
    .get("/:key", async (c) => {
      const key = c.req.param("key");
      if (!isSettingKey(key)) throw new ApiError(404, `unknown setting "${key}"`);
      const s = await loadSettings(d.db);
      return c.json({ key, value: s[key], default: DEFAULT_SETTINGS[key] });
    })
    .put("/:key", requireJson, valid("json", settingBody), async (c) => {
      const key = c.req.param("key");
      if (!isSettingKey(key)) throw new ApiError(404, `unknown setting "${key}"`);
      const { value } = c.req.valid("json");
      await setSetting(d.db, key, value);
      d.logger.info({ key, value }, "setting changed by administrator");
      return c.json({ key, value });
    })
    .delete("/:key", async (c) => {
      const key = c.req.param("key");
      if (!isSettingKey(key)) throw new ApiError(404, `unknown setting "${key}"`);
      await resetSetting(d.db, key);
      return c.json({ key, value: DEFAULT_SETTINGS[key] });
    });
}
