CREATE TABLE "dkim_keys" (
	"domain" text NOT NULL,
	"selector" text NOT NULL,
	"algorithm" text NOT NULL,
	"private_key" text NOT NULL,
	"public_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	CONSTRAINT "dkim_keys_domain_selector_pk" PRIMARY KEY("domain","selector"),
	CONSTRAINT "dkim_keys_algorithm_check" CHECK ("dkim_keys"."algorithm" IN ('rsa-sha256', 'ed25519-sha256'))
);
--> statement-breakpoint
ALTER TABLE "dkim_keys" ADD CONSTRAINT "dkim_keys_domain_domains_name_fk" FOREIGN KEY ("domain") REFERENCES "public"."domains"("name") ON DELETE cascade ON UPDATE no action;
