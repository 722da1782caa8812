CREATE TABLE "recordings" (
	"id" text PRIMARY KEY NOT NULL,
	"room_id" text NOT NULL,
	"session_id" text NOT NULL,
	"status" text DEFAULT 'recording' NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"duration_ms" integer DEFAULT 0 NOT NULL,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ready_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "recordings" ADD CONSTRAINT "recordings_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recordings" ADD CONSTRAINT "recordings_session_id_live_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."live_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "recordings_session_idx" ON "recordings" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "recordings_room_idx" ON "recordings" USING btree ("room_id","id");--> statement-breakpoint
CREATE INDEX "recordings_recording_idx" ON "recordings" USING btree ("status") WHERE "recordings"."status" = 'recording';