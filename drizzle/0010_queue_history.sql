ALTER TABLE "messages" ADD COLUMN "subject" text;
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "header_message_id" text;
--> statement-breakpoint
CREATE INDEX "messages_header_message_id_idx" ON "messages" USING btree ("header_message_id") WHERE header_message_id IS NOT NULL;
--> statement-breakpoint
CREATE TABLE "queue_depth_samples" (
	"sampled_at" timestamp with time zone PRIMARY KEY NOT NULL,
	"queued" integer NOT NULL,
	"deferred" integer NOT NULL,
	"held" integer NOT NULL,
	"sampled_by" text NOT NULL
);
