import { describe, expect, it } from "vitest";
import { DEFAULT_SETTINGS, SETTING_CHECKS, SettingError, type SettingKey, validateSetting } from "../../src/cluster/settings.ts";
import { UserError } from "../../src/domain/user-error.ts";

const keys = Object.keys(DEFAULT_SETTINGS) as SettingKey[];

describe("the settings' validator table", () => {
  it("accepts every default and refuses a value of another type, for every setting", () => {
    for (const key of keys) {
      expect(SETTING_CHECKS[key](DEFAULT_SETTINGS[key]), key).toBeNull();
      const other = typeof DEFAULT_SETTINGS[key] === "string" ? 1 : "x";
      expect(SETTING_CHECKS[key](other), key).toMatch(/^takes a (number|boolean|string)$/);
    }
  });

  it("numbers are finite and not negative", () => {
    expect(() => validateSetting("retry_jitter", Number.NaN)).toThrow('setting "retry_jitter" takes a number');
    expect(() => validateSetting("retry_jitter", Number.POSITIVE_INFINITY)).toThrow('setting "retry_jitter" takes a number');
    expect(() => validateSetting("retry_jitter", -0.1)).toThrow('setting "retry_jitter" must not be negative');
    expect(validateSetting("retry_jitter", 0)).toBe("retry_jitter");
  });

  it("bounce classes are known ones, blanks and spaces allowed", () => {
    expect(validateSetting("suppression_auto_classes", " bad_mailbox , mailbox_full,")).toBe("suppression_auto_classes");
    expect(validateSetting("suppression_auto_classes", "")).toBe("suppression_auto_classes");
    expect(() => validateSetting("suppression_auto_classes", "bad_mailbox,spam,junk")).toThrow(/has an unknown bounce class spam, junk; known: /);
  });

  it("a refusal is a UserError answering 400", () => {
    let caught: unknown;
    try {
      validateSetting("no_such_setting", 1);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SettingError);
    expect(caught).toBeInstanceOf(UserError);
    expect(caught).toMatchObject({ status: 400, message: 'unknown setting "no_such_setting"' });
  });
});
