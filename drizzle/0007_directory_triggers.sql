-- Custom SQL migration (drizzle-kit generate --custom): the directory version's row and the
-- triggers that bump it. Every change to domains, accounts or aliases bumps the version in the
-- same transaction and notifies members, which reload their in-memory directory
-- (src/accounts/directory.ts). Directory changes are rare, so a NOTIFY inside them is cheap.
INSERT INTO "directory_version" ("singleton", "version") VALUES (true, 0) ON CONFLICT DO NOTHING;
--> statement-breakpoint
CREATE FUNCTION "mailcluster_directory_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v bigint;
BEGIN
  UPDATE "directory_version" SET "version" = "version" + 1 RETURNING "version" INTO v;
  PERFORM pg_notify('mailcluster_directory', v::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "domains_directory_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "domains"
  FOR EACH STATEMENT EXECUTE FUNCTION "mailcluster_directory_changed"();
--> statement-breakpoint
CREATE TRIGGER "accounts_directory_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "accounts"
  FOR EACH STATEMENT EXECUTE FUNCTION "mailcluster_directory_changed"();
--> statement-breakpoint
CREATE TRIGGER "aliases_directory_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "aliases"
  FOR EACH STATEMENT EXECUTE FUNCTION "mailcluster_directory_changed"();
