CREATE TABLE "live_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"room_id" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"end_reason" text,
	"peak_online" integer DEFAULT 0 NOT NULL,
	"peak_viewers" integer DEFAULT 0 NOT NULL,
	"record" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rooms" (
	"id" text PRIMARY KEY NOT NULL,
	"streamer_id" text NOT NULL,
	"title" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"cover_file_id" text,
	"status" text DEFAULT 'idle' NOT NULL,
	"interrupted" boolean DEFAULT false NOT NULL,
	"stream_key_hash" text NOT NULL,
	"record" boolean DEFAULT false NOT NULL,
	"online" integer DEFAULT 0 NOT NULL,
	"viewers" integer DEFAULT 0 NOT NULL,
	"preview_at" timestamp with time zone,
	"live_since" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rooms_counts_nonnegative" CHECK ("rooms"."online" >= 0 AND "rooms"."viewers" >= 0)
);
--> statement-breakpoint
ALTER TABLE "live_sessions" ADD CONSTRAINT "live_sessions_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rooms" ADD CONSTRAINT "rooms_streamer_id_users_id_fk" FOREIGN KEY ("streamer_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rooms" ADD CONSTRAINT "rooms_cover_file_id_files_id_fk" FOREIGN KEY ("cover_file_id") REFERENCES "public"."files"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "live_sessions_room_idx" ON "live_sessions" USING btree ("room_id","started_at");--> statement-breakpoint
CREATE INDEX "live_sessions_started_idx" ON "live_sessions" USING btree ("started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "live_sessions_open_idx" ON "live_sessions" USING btree ("room_id") WHERE "live_sessions"."ended_at" IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "rooms_streamer_idx" ON "rooms" USING btree ("streamer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "rooms_stream_key_idx" ON "rooms" USING btree ("stream_key_hash");--> statement-breakpoint
CREATE INDEX "rooms_status_online_idx" ON "rooms" USING btree ("status","online","id");