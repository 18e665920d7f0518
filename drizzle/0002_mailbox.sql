CREATE TABLE "aliases" (
	"address" text PRIMARY KEY NOT NULL,
	"domain" text NOT NULL,
	"targets" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auto_replies" (
	"account" text NOT NULL,
	"sender" text NOT NULL,
	"last_sent_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mailbox_folders" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "mailbox_folders_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"account" text NOT NULL,
	"name" text NOT NULL,
	"next_uid" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mailbox_messages" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "mailbox_messages_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"account" text NOT NULL,
	"folder_id" bigint NOT NULL,
	"uid" integer NOT NULL,
	"queue_message_id" bigint,
	"flags" text[] DEFAULT '{}'::text[] NOT NULL,
	"size_bytes" integer NOT NULL,
	"sender" text,
	"subject" text,
	"stored_epoch" bigint,
	"stored_by" text,
	"internal_date" timestamp with time zone NOT NULL,
	"content" "bytea" NOT NULL
);
--> statement-breakpoint
ALTER TABLE "auto_replies" ADD CONSTRAINT "auto_replies_account_accounts_address_fk" FOREIGN KEY ("account") REFERENCES "public"."accounts"("address") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mailbox_folders" ADD CONSTRAINT "mailbox_folders_account_accounts_address_fk" FOREIGN KEY ("account") REFERENCES "public"."accounts"("address") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mailbox_messages" ADD CONSTRAINT "mailbox_messages_account_accounts_address_fk" FOREIGN KEY ("account") REFERENCES "public"."accounts"("address") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mailbox_messages" ADD CONSTRAINT "mailbox_messages_folder_id_mailbox_folders_id_fk" FOREIGN KEY ("folder_id") REFERENCES "public"."mailbox_folders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "auto_replies_account_sender_idx" ON "auto_replies" USING btree ("account","sender");--> statement-breakpoint
CREATE UNIQUE INDEX "mailbox_folders_account_name_idx" ON "mailbox_folders" USING btree ("account","name");--> statement-breakpoint
CREATE UNIQUE INDEX "mailbox_messages_dedupe_idx" ON "mailbox_messages" USING btree ("account","queue_message_id");--> statement-breakpoint
CREATE UNIQUE INDEX "mailbox_messages_folder_uid_idx" ON "mailbox_messages" USING btree ("folder_id","uid");--> statement-breakpoint
CREATE INDEX "mailbox_messages_account_idx" ON "mailbox_messages" USING btree ("account");