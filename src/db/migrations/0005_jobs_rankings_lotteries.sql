CREATE TABLE "jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"queue" text NOT NULL,
	"data" jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"run_at" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"backoff_ms" integer NOT NULL,
	"locked_until" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "lotteries" (
	"id" text PRIMARY KEY NOT NULL,
	"room_id" text NOT NULL,
	"streamer_id" text NOT NULL,
	"prize" text NOT NULL,
	"winners" integer NOT NULL,
	"method" text NOT NULL,
	"keyword" text,
	"gift_id" text,
	"followers_only" boolean DEFAULT false NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"seed" text NOT NULL,
	"seed_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"drawn_at" timestamp with time zone,
	"entries_hash" text,
	"entry_count" integer,
	"winner_ids" jsonb,
	CONSTRAINT "lotteries_winners_positive" CHECK ("lotteries"."winners" >= 1)
);
--> statement-breakpoint
CREATE TABLE "lottery_entries" (
	"lottery_id" text NOT NULL,
	"user_id" text NOT NULL,
	"via" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "lottery_entries_lottery_id_user_id_pk" PRIMARY KEY("lottery_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "ranking_snapshots" (
	"board" text NOT NULL,
	"window_name" text NOT NULL,
	"period_start" timestamp with time zone,
	"items" jsonb NOT NULL,
	"digest" text NOT NULL,
	"computed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "ranking_snapshots_board_window_name_pk" PRIMARY KEY("board","window_name")
);
--> statement-breakpoint
ALTER TABLE "lotteries" ADD CONSTRAINT "lotteries_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lottery_entries" ADD CONSTRAINT "lottery_entries_lottery_id_lotteries_id_fk" FOREIGN KEY ("lottery_id") REFERENCES "public"."lotteries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "jobs_due_idx" ON "jobs" USING btree ("run_at") WHERE "jobs"."status" IN ('pending', 'running');--> statement-breakpoint
CREATE INDEX "jobs_finished_idx" ON "jobs" USING btree ("finished_at") WHERE "jobs"."finished_at" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "lotteries_open_room_idx" ON "lotteries" USING btree ("room_id") WHERE "lotteries"."status" = 'open';--> statement-breakpoint
CREATE INDEX "lotteries_room_idx" ON "lotteries" USING btree ("room_id","created_at");--> statement-breakpoint
CREATE INDEX "lotteries_due_idx" ON "lotteries" USING btree ("ends_at") WHERE "lotteries"."status" = 'open';--> statement-breakpoint
CREATE INDEX "follows_created_idx" ON "follows" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "transfers_gifts_at_idx" ON "transfers" USING btree ("at") WHERE "transfers"."kind" = 'gift';