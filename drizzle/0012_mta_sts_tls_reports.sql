ALTER TABLE "routes" ADD COLUMN "tls" text DEFAULT 'may' NOT NULL;
--> statement-breakpoint
UPDATE "routes" SET "tls" = 'encrypt' WHERE "require_tls";
--> statement-breakpoint
ALTER TABLE "routes" DROP COLUMN "require_tls";
--> statement-breakpoint
ALTER TABLE "routes" ADD CONSTRAINT "routes_tls_check" CHECK ("routes"."tls" IN ('none', 'may', 'encrypt', 'verify'));
--> statement-breakpoint
CREATE TABLE "mta_sts_policies" (
	"domain" text PRIMARY KEY NOT NULL,
	"txt_id" text,
	"mode" text NOT NULL,
	"mx" text[] DEFAULT '{}' NOT NULL,
	"max_age" integer DEFAULT 0 NOT NULL,
	"policy_text" text,
	"fetched_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"checked_at" timestamp with time zone NOT NULL,
	"error_type" text,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "tls_rpt_results" (
	"day" date NOT NULL,
	"policy_domain" text NOT NULL,
	"policy_type" text NOT NULL,
	"policy_string" text DEFAULT '' NOT NULL,
	"mx_host" text DEFAULT '' NOT NULL,
	"result_type" text NOT NULL,
	"receiving_mx_hostname" text DEFAULT '' NOT NULL,
	"receiving_ip" text DEFAULT '' NOT NULL,
	"additional_info" text DEFAULT '' NOT NULL,
	"sessions" bigint NOT NULL,
	CONSTRAINT "tls_rpt_results_pk" PRIMARY KEY("day","policy_domain","policy_type","policy_string","result_type","receiving_mx_hostname","receiving_ip")
);
--> statement-breakpoint
CREATE TABLE "tls_rpt_reports" (
	"day" date NOT NULL,
	"policy_domain" text NOT NULL,
	"report_id" text NOT NULL,
	"status" text NOT NULL,
	"rua" text DEFAULT '' NOT NULL,
	"message_id" bigint,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "tls_rpt_reports_pk" PRIMARY KEY("day","policy_domain")
);
