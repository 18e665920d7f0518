CREATE TABLE "members" (
	"name" text PRIMARY KEY NOT NULL,
	"roles" text[] NOT NULL,
	"smtp_endpoint" text,
	"http_url" text,
	"submit_mode" text DEFAULT 'locally-for-others' NOT NULL,
	"hostname" text,
	"pid" integer,
	"version" text,
	"started_at" timestamp with time zone NOT NULL,
	"heartbeat_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "message_bodies" (
	"message_id" bigint PRIMARY KEY NOT NULL,
	"content" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "messages_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"sender" text NOT NULL,
	"size_bytes" integer NOT NULL,
	"client_address" text,
	"client_hostname" text,
	"client_helo" text,
	"authenticated_user" text,
	"tls" boolean DEFAULT false NOT NULL,
	"protocol" text,
	"dsn_envid" text,
	"dsn_ret" text,
	"kind" text DEFAULT 'normal' NOT NULL,
	"submitted_by" text NOT NULL,
	"processor" text,
	"rule_invocations" integer DEFAULT 0 NOT NULL,
	"pending_recipients" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"done_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "recipients" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "recipients_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"message_id" bigint NOT NULL,
	"address" text NOT NULL,
	"domain" text NOT NULL,
	"dsn_orcpt" text,
	"dsn_notify" text,
	"state" text DEFAULT 'queued' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"locked_by" text,
	"locked_until" timestamp with time zone,
	"last_code" integer,
	"last_status" text,
	"last_text" text,
	"last_attempt_at" timestamp with time zone,
	"delay_notified_at" timestamp with time zone,
	"queued_at" timestamp with time zone NOT NULL,
	"final_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "attempts" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "attempts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"message_id" bigint NOT NULL,
	"recipient_id" bigint NOT NULL,
	"address" text NOT NULL,
	"member" text NOT NULL,
	"outcome" text NOT NULL,
	"reply_code" integer NOT NULL,
	"enhanced_status" text,
	"reply_text" text NOT NULL,
	"remote_host" text,
	"started_at" timestamp with time zone NOT NULL,
	"duration_ms" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "account_leases" (
	"account" text PRIMARY KEY NOT NULL,
	"member" text NOT NULL,
	"epoch" bigint NOT NULL,
	"lease_until" timestamp with time zone NOT NULL,
	"acquired_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "accounts" (
	"address" text PRIMARY KEY NOT NULL,
	"domain" text NOT NULL,
	"password_hash" text,
	"quota_bytes" bigint,
	"home_member" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"rules" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "domains" (
	"name" text PRIMARY KEY NOT NULL,
	"catch_all" text,
	"rules" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "routes" (
	"domain" text PRIMARY KEY NOT NULL,
	"hosts" text NOT NULL,
	"require_tls" boolean DEFAULT false NOT NULL,
	"auth_user" text,
	"auth_pass" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "message_bodies" ADD CONSTRAINT "message_bodies_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recipients" ADD CONSTRAINT "recipients_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "account_leases" ADD CONSTRAINT "account_leases_account_accounts_address_fk" FOREIGN KEY ("account") REFERENCES "public"."accounts"("address") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_domain_domains_name_fk" FOREIGN KEY ("domain") REFERENCES "public"."domains"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "messages_done_at_idx" ON "messages" USING btree ("done_at") WHERE done_at IS NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_processor_idx" ON "messages" USING btree ("processor") WHERE done_at IS NULL;--> statement-breakpoint
CREATE INDEX "recipients_ready_idx" ON "recipients" USING btree ("next_attempt_at") WHERE state = 'queued';--> statement-breakpoint
CREATE INDEX "recipients_message_idx" ON "recipients" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "recipients_domain_idx" ON "recipients" USING btree ("domain") WHERE state IN ('queued', 'held');--> statement-breakpoint
CREATE INDEX "attempts_message_idx" ON "attempts" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "attempts_started_idx" ON "attempts" USING btree ("started_at");