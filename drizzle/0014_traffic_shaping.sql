CREATE TABLE "shaping_slots" (
	"site" text NOT NULL,
	"slot" integer NOT NULL,
	"holder" text,
	"lease_until" timestamp with time zone NOT NULL,
	CONSTRAINT "shaping_slots_site_slot_pk" PRIMARY KEY("site","slot")
);
--> statement-breakpoint
CREATE TABLE "shaping_buckets" (
	"site" text PRIMARY KEY NOT NULL,
	"connection_tokens" double precision DEFAULT 0 NOT NULL,
	"message_tokens" double precision DEFAULT 0 NOT NULL,
	"granted" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "shaping_suspensions" (
	"site" text PRIMARY KEY NOT NULL,
	"until" timestamp with time zone NOT NULL,
	"max_connections" integer,
	"reason" text NOT NULL,
	"domains" text[] DEFAULT '{}' NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "shaping_limits" (
	"destination" text PRIMARY KEY NOT NULL,
	"max_connections" integer,
	"messages_per_minute" integer,
	"connections_per_minute" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "shaping_rules" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "shaping_rules_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"pattern" text NOT NULL,
	"action" text NOT NULL,
	"seconds" integer NOT NULL,
	"max_connections" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
INSERT INTO "shaping_rules" ("pattern", "action", "seconds") VALUES
	('^4\d\d 4\.7\.28\b', 'suspend', 900),
	('^421 (?!.*greylist).*(try again later|rate.?limit|too many|throttl)', 'suspend', 300),
	('^4\d\d (?!.*greylist).*(rate.?limit|too many (messages|connections|mails)|throttl|sending rate|unusual rate)', 'suspend', 300);
