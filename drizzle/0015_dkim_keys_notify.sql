-- Custom SQL migration (drizzle-kit generate --custom): every change to dkim_keys notifies the
-- members in the same transaction, as the directory triggers do (0007_directory_triggers.sql), so
-- their keyrings (src/dkim/keyring.ts) reload at once instead of at their next 30-second reload.
CREATE FUNCTION "mailcluster_dkim_keys_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mailcluster_dkim_keys', '');
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "dkim_keys_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "dkim_keys"
  FOR EACH STATEMENT EXECUTE FUNCTION "mailcluster_dkim_keys_changed"();
