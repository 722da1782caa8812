CREATE TABLE "media_viewer_counts" (
	"node_id" text NOT NULL,
	"room_id" text NOT NULL,
	"viewers" integer NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "media_viewer_counts_node_id_room_id_pk" PRIMARY KEY("node_id","room_id")
);
--> statement-breakpoint
ALTER TABLE "media_viewer_counts" ADD CONSTRAINT "media_viewer_counts_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "media_viewer_counts_room_idx" ON "media_viewer_counts" USING btree ("room_id");