ALTER TABLE "attempts" ADD COLUMN "bounce_class" text;
--> statement-breakpoint
CREATE TABLE "suppressions" (
	"address" text PRIMARY KEY NOT NULL,
	"reason" text NOT NULL,
	"source" text NOT NULL,
	"bounce_class" text,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone,
	"created_by" text NOT NULL,
	CONSTRAINT "suppressions_source_check" CHECK ("suppressions"."source" IN ('manual', 'bounce'))
);
--> statement-breakpoint
CREATE INDEX "suppressions_created_at_idx" ON "suppressions" USING btree ("created_at");
