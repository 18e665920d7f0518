import type { AppContext } from "../../src/app-context.ts";
import { DEFAULT_SETTINGS, type Settings } from "../../src/cluster/settings.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import type { Storage } from "../../src/db/storage.ts";
import type { Clock, Random } from "../../src/domain/types.ts";
import { testAppContext } from "../helpers/app-context.ts";

/** An AppContext on a test database with settings the test can change at will. */
export function testContext(storage: Storage, clock: Clock, o: { settings?: Partial<Settings>; config?: Partial<Config>; random?: Random } = {}): AppContext & { set(s: Partial<Settings>): void } {
  let settings: Settings = { ...DEFAULT_SETTINGS, retry_jitter: 0, ...o.settings };
  const config: Config = { ...loadConfig({}, {}), memberName: "relay-test", hostname: "mta.test.example", roles: ["backend"], ...o.config };
  return {
    ...testAppContext(storage, { config, clock, random: o.random, settings: () => settings }),
    set(s) {
      settings = { ...settings, ...s };
    },
  };
}
