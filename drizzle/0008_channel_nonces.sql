CREATE TABLE "channel_nonces" (
	"nonce" text PRIMARY KEY NOT NULL,
	"sender" text NOT NULL,
	"receiver" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "channel_nonces_expires_at" ON "channel_nonces" USING btree ("expires_at");