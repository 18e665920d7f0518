ALTER TABLE "message_bodies" DROP CONSTRAINT "message_bodies_pkey";--> statement-breakpoint
ALTER TABLE "message_bodies" ADD COLUMN "part" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "message_bodies" ADD CONSTRAINT "message_bodies_message_id_part_pk" PRIMARY KEY("message_id","part");
